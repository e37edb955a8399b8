"""An upgrade through a savepoint, the way the Kubernetes operator does one (upgradeMode: savepoint): mid-stream,
the job at parallelism 2 is stopped with a savepoint, and the new deployment (parallelism 1, another checkpoint
interval, a new checkpoint directory) resumes from it while the turbines keep sending. The strict oracle holds:
nothing lost, nothing twice. Afterwards, the same savepoint is older than the tables' newest commit, and a start
from it is refused with one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from anemos.platform import Names
from cluster.flink import FlinkCluster
from flink_jobs.common import checkpoints
from reliability import chaos, oracle
from reliability import scenario as ref
from stack.settings import PROJECT_ROOT, StackSettings

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]


def test_stop_with_savepoint_then_upgrade_keeps_the_oracle(stack: StackSettings, names: Names, cluster: FlinkCluster,
                                                           tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    sc = ref.build(names.namespace.removeprefix("test_")[:8], seed=17)
    oracle.register_scenario(stack, sc)
    bridge = oracle.local_bridge(stack, names)
    target = f"127.0.0.1:{bridge.port}"
    jobs = [cluster.submit(chaos.job_args(names, tmp_path / "v1", tag, 2, 3_000), tmp_path / "submit-v1.log")]
    savepoint: list[str] = []

    def upgrade() -> None:
        savepoint.append(cluster.stop_with_savepoint(jobs[0], tmp_path / "savepoints"))
        assert cluster.job(jobs[0]).get("state") == "FINISHED"
        v2 = chaos.job_args(names, tmp_path / "v2", tag, 1, 5_000)
        jobs.append(cluster.submit([*v2, "--restore-from", savepoint[0]], tmp_path / "submit-v2.log"))
        cluster.wait_running(jobs[1])

    hook = oracle.MidStreamKill(stack, names, sc, upgrade)
    try:
        cluster.wait_running(jobs[0])
        sent = oracle.send_ontime(stack, names, target, sc, on_batch=hook)
        hook.assert_mid_stream()
        problems = oracle.finish(stack, names, target, sc, sent)
    finally:
        for job in jobs:
            cluster.cancel(job)
        bridge.stop()
    submitted = (tmp_path / "submit-v2.log").read_text(errors="replace")
    assert f"restored_from={savepoint[0]}" in submitted, submitted[-2000:]
    # v1 started without state, so in the cascade plan; the savepoint records it, and v2 (no --window-plan) took it
    assert checkpoints.savepoint_window_plan(checkpoints.local_path(savepoint[0])) == "cascade"
    assert cluster.window_plan(jobs[1]) == "cascade"
    assert problems == [], "\n".join(problems)

    # the savepoint is now older than what v2 committed: starting from it again would commit readings twice
    again = subprocess.run([sys.executable, "-m", "flink_jobs.ingest", *chaos.job_args(names, tmp_path / "v3", tag, 1, 3_000),
                            "--restore-from", savepoint[0]], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert again.returncode == 2, again.stderr[-2000:]
    refusal = [line for line in again.stderr.splitlines() if "refused" in line]
    assert len(refusal) == 1 and "savepoint" in refusal[0] and "is older" in refusal[0], again.stderr[-2000:]
