"""The schema registry down while records with schema ids the job has not cached arrive: the job holds them
(back-pressure and retries), never dead-letters them as unknown, and decodes them once the registry is back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from anemos.platform import Names
from anemos.runner import wait_for_rows
from edge_bridge import simulator
from reliability import oracle
from reliability import scenario as ref
from reliability.pipeline import new_job
from stack.services import SchemaRegistry
from stack.settings import StackSettings

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]

DOWN_FOR_S = 30


def test_registry_down_holds_records_with_uncached_schema_ids_instead_of_dead_lettering_them(
        stack: StackSettings, names: Names, tmp_path: Path) -> None:
    sc = ref.build(names.namespace.removeprefix("test_")[:8], seed=15)
    oracle.register_scenario(stack, sc)
    bridge = oracle.local_bridge(stack, names)
    job = new_job(stack, names, tmp_path, interval_ms=2_000, extra_args=("--loss-after-ms", str(ref.LOSS_AFTER_MS)))
    target = f"127.0.0.1:{bridge.port}"
    registry = SchemaRegistry(stack)
    try:
        job.start()
        job.wait_submitted()
        report = simulator.send_readings(target, sc.ontime, batch_size=500, edge_id="edge-oracle")
        dup = simulator.send_readings(target, sc.duplicates, batch_size=500, edge_id="edge-oracle")
        poison = oracle.make_poison(stack, names, sc)  # registers the incompatible writer schema: a new id
        wait_for_rows(stack, names.readings_table, 1, timeout_s=240)
        registry.stop()
        oracle.produce_poison(stack, names, sc, poison)
        time.sleep(DOWN_FOR_S)
        rejected = oracle.rejected_rows(stack, names)
        assert "UNKNOWN_SCHEMA_ID" not in set(rejected.reason_code), "a registry outage was taken for an unknown schema id"
        registry.start()
        registry.wait_ready()
        sent = oracle.Sent(report.accepted_ids | dup.accepted_ids, poison)
        problems = oracle.finish(stack, names, target, sc, sent)
    finally:
        if registry.pid() is None:
            registry.start()
            registry.wait_ready()
        job.stop()
        bridge.stop()
    assert problems == [], "\n".join(problems)
