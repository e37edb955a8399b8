"""kill -9 only the local mini-cluster's JVM: the job process must notice and exit 3 (job gone) at once, and a
supervisor's restart from the latest checkpoint must lose nothing and duplicate nothing.

Found by the disk-full test: the JVM vanished while Flink restarted the job on a full disk (no crash report, no
OOM kill); the job process ended with a Python traceback (exit 1, like any crash), nothing restarted it, and the
test waited for windows that never fired."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from anemos.platform import Names
from anemos.runner import Supervisor, stored_ids, wait_for_rows
from edge_bridge import simulator
from flink_jobs.ingest.__main__ import EXIT_JOB_GONE
from reliability import oracle
from reliability.pipeline import new_job
from stack.settings import StackSettings

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]

FIRST, SECOND = 3_000, 12_000
KILL_AT = 3  # of the second send's 12 batches of 1,000


def test_a_dead_jvm_ends_the_job_process_and_a_restart_loses_nothing(stack: StackSettings, names: Names,
                                                                     tmp_path: Path) -> None:
    bridge = oracle.local_bridge(stack, names)
    target = f"127.0.0.1:{bridge.port}"
    job = new_job(stack, names, tmp_path, interval_ms=2_000).start()
    try:
        job.wait_submitted()
        sent = simulator.send(target, FIRST, turbines=5, seed=31, edge_id="edge-jvm").accepted_ids
        wait_for_rows(stack, names.readings_table, 1, timeout_s=180)  # a checkpoint has committed
        jvm, first = job.jvm_pid(), job.proc
        assert jvm is not None and first is not None, "no JVM under the job process"
        hook = oracle.KillAtBatch(lambda: os.kill(jvm, signal.SIGKILL), at=KILL_AT)  # mid-stream by construction
        second: dict[str, set[str]] = {}
        sender = threading.Thread(target=lambda: second.setdefault("ids", simulator.send(
            target, SECOND, turbines=5, seed=32, edge_id="edge-jvm", on_batch=hook).accepted_ids))
        sender.start()
        hook.wait()
        code = first.wait(timeout=60)
        exited_after = time.monotonic() - hook.killed_at
        at_kill = len(stored_ids(stack, names.readings_table))  # the dead JVM commits nothing more
        with Supervisor(job, poll_s=0.5) as supervisor:
            sender.join(timeout=120)
            sent |= second["ids"]
            ids = wait_for_rows(stack, names.readings_table, len(sent), timeout_s=300, settle_s=8)
    finally:
        job.stop()
        bridge.stop()

    assert code == EXIT_JOB_GONE, f"the job process exited {code}, not {EXIT_JOB_GONE}"
    print(f"job process exited {code} {exited_after:.1f} s after its JVM was killed; {at_kill} rows stored then")
    assert supervisor.restarts == [EXIT_JOB_GONE]
    assert 0 < at_kill <= FIRST + KILL_AT * 1_000 < len(sent), f"the kill was not mid-stream: {at_kill} rows stored"
    assert len(sent) == FIRST + SECOND
    assert len(ids) == len(set(ids)) == len(sent) and set(ids) == sent, (
        f"{len(ids)} rows, {len(set(ids))} distinct, {len(sent - set(ids))} missing")
    job_log = (tmp_path / "job.log").read_text()
    assert re.search(r"ERROR anemos.ingest: job [0-9a-f]{32} is gone \(", job_log), "no 'job gone' line in the job log"
    assert "--- Logging error ---" not in job_log
