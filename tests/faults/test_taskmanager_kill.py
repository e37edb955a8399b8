"""kill -9 a TaskManager of the standalone cluster mid-scenario: Flink fails over from the latest checkpoint
(region failover, exponential-delay restarts) and every sink still equals the reference model."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import pytest

from anemos.platform import Names
from cluster.flink import FlinkCluster, wait_for
from iceberg.catalog import open_catalog
from stack.manager import catalog_properties
from stack.settings import StackSettings
from reliability import chaos, oracle
from reliability import scenario as ref

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]

NEXT_COMMIT_WITHIN_S = 120  # (g): from the kill to the next commit, restarts and restore included

PARALLELISM = 2  # the dedupe shuffles by msg_id: arrival order per turbine differs run to run


def test_taskmanager_sigkill_mid_stream_keeps_the_oracle(stack: StackSettings, names: Names, cluster: FlinkCluster,
                                                         tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    sc = ref.build(names.namespace.removeprefix("test_")[:8], seed=11)
    oracle.register_scenario(stack, sc)
    bridge = oracle.local_bridge(stack, names)
    target = f"127.0.0.1:{bridge.port}"
    job_id = cluster.submit(chaos.job_args(names, tmp_path / "checkpoints", tag, PARALLELISM, 3_000), tmp_path / "submit.log")
    victim: list[int] = []
    at_kill: dict[str, float] = {}
    readings = open_catalog(catalog_properties(stack)).load_table(names.readings_table)

    def kill_a_busy_taskmanager() -> None:
        """kill -9 a TaskManager that runs tasks of the job, with its Python workers."""
        victim.append(cluster.taskmanagers_of(job_id)[0])
        at_kill["snapshot"] = readings.refresh().current_snapshot().snapshot_id
        at_kill["time"] = time.monotonic()
        cluster.kill_taskmanager(victim[0], signal.SIGKILL)

    kill = oracle.MidStreamKill(stack, names, sc, kill_a_busy_taskmanager)  # mid-stream, after a first commit

    try:
        cluster.wait_running(job_id)
        sent = oracle.send_ontime(stack, names, target, sc, on_batch=kill)
        kill.assert_mid_stream()
        cluster.start_taskmanager(victim[0])  # what a supervisor does (see the README: survivor slots alone did not do)
        # (g) the next Iceberg commit lands within the bound of the kill
        wait_for("an Iceberg commit after the kill", lambda: readings.refresh().current_snapshot().snapshot_id != at_kill["snapshot"],
                 NEXT_COMMIT_WITHIN_S - (time.monotonic() - at_kill["time"]))
        print(f"(g) next Iceberg commit {time.monotonic() - at_kill['time']:.0f}s after the kill")
        took = wait_for("the job running again", lambda: cluster.job(job_id).get("state") == "RUNNING" and
                        cluster.checkpoints(job_id)["counts"]["restored"] >= 1, 240)
        print(f"failover: job running again, restored from a checkpoint, {took:.0f}s after the TaskManager came back")
        problems = oracle.finish(stack, names, target, sc, sent)
    finally:
        cluster.cancel(job_id)
        bridge.stop()
    assert cluster.checkpoints(job_id)["counts"]["restored"] >= 1, "the job never restored from a checkpoint"
    assert problems == [], "\n".join(problems)
