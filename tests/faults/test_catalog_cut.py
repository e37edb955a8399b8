"""Cut the Iceberg catalog's connection after the commit's UPDATE reached Postgres but before the answer came
back (a loopback proxy): the committer cannot know whether its commit landed. Whatever it does next, every
sink must still equal the reference: no reading lost, none committed twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from anemos.platform import Names
from anemos.runner import wait_for_rows
from reliability import oracle
from reliability import scenario as ref
from reliability.pgproxy import CutProxy
from reliability.pipeline import new_job
from stack.settings import StackSettings

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]


def committer_log() -> list[str]:
    """The mini-cluster's log lines on commits and failures (pyflink/log, rewritten at each job start)."""
    import pyflink

    logs = sorted((Path(pyflink.__file__).parent / "log").glob("flink-*-python-*.log"), key=lambda f: f.stat().st_mtime)
    wanted = ("CommitStateUnknown", "CommitFailed", "Retrying", "switched from RUNNING to FAILING", "Committed to table",
              "UncheckedSQLException", "Restoring job")
    lines = logs[-1].read_text(errors="replace").splitlines() if logs else []
    return [line[:240] for line in lines if any(w in line for w in wanted)][:15]


def test_catalog_connection_cut_after_the_commit_statement_keeps_the_oracle(stack: StackSettings, names: Names,
                                                                            tmp_path: Path) -> None:
    sc = ref.build(names.namespace.removeprefix("test_")[:8], seed=13)
    oracle.register_scenario(stack, sc)
    proxy = CutProxy((stack.host, stack.postgres_port)).start()
    uri = f"jdbc:postgresql://{proxy.host}:{proxy.port}/{stack.postgres_db}?prepareThreshold=0"
    bridge = oracle.local_bridge(stack, names)
    job = new_job(stack, names, tmp_path, interval_ms=2_000,
                  extra_args=("--loss-after-ms", str(ref.LOSS_AFTER_MS), "--catalog-uri", uri))
    target = f"127.0.0.1:{bridge.port}"
    batches = []

    def arm_after_a_first_commit(_n: int) -> None:
        batches.append(_n)
        if len(batches) == 6:
            wait_for_rows(stack, names.readings_table, 1, timeout_s=240)
            proxy.arm()

    try:
        job.start()
        job.wait_submitted()
        sent = oracle.send_ontime(stack, names, target, sc, on_batch=arm_after_a_first_commit)
        deadline = time.monotonic() + 120
        while not proxy.cuts and time.monotonic() < deadline:
            time.sleep(1)
        assert proxy.cuts, "no catalog commit went through the proxy after it was armed"
        print(f"cut after: {proxy.cuts[0].statement}")
        problems = oracle.finish(stack, names, target, sc, sent)
        print("what the committer made of it:", *committer_log(), sep="\n  ")
    finally:
        job.stop()
        bridge.stop()
        proxy.stop()
    assert problems == [], "\n".join(problems)
