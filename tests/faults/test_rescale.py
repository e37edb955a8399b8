"""kill -9 the whole cluster (JobManager and TaskManagers) mid-scenario while the job runs at parallelism 2, then
resume it from its latest checkpoint at parallelism 1 on a fresh cluster: every sink still equals the reference
(Flink's test_resume_externalized_checkpoints.sh, with our oracle)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from anemos.platform import Names
from cluster.flink import FlinkCluster
from flink_jobs.common import checkpoints
from reliability import chaos, oracle
from reliability import scenario as ref
from stack.settings import StackSettings

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]


def test_whole_job_killed_at_parallelism_2_resumes_at_parallelism_1_and_keeps_the_oracle(
        stack: StackSettings, names: Names, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    sc = ref.build(names.namespace.removeprefix("test_")[:8], seed=12)
    oracle.register_scenario(stack, sc)
    cluster = FlinkCluster(stack)
    cluster.up()
    bridge = oracle.local_bridge(stack, names)
    target = f"127.0.0.1:{bridge.port}"
    ckpt = tmp_path / "checkpoints"
    first = cluster.submit(chaos.job_args(names, ckpt, tag, 2, 2_000), tmp_path / "submit-1.log")
    kill = oracle.MidStreamKill(stack, names, sc, cluster.kill_all)
    try:
        cluster.wait_running(first)
        sent = oracle.send_ontime(stack, names, target, sc, on_batch=kill)
        kill.assert_mid_stream()
        latest = checkpoints.latest(ckpt)
        assert latest is not None, "no checkpoint was retained"
        cluster.up()  # a new JobManager: without HA it knows nothing of the killed job
        second = cluster.submit(chaos.job_args(names, ckpt, tag, 1, 2_000), tmp_path / "submit-2.log")
        cluster.wait_running(second)
        assert {v["parallelism"] for v in cluster.job(second)["vertices"]} == {1}
        assert cluster.checkpoints(second)["latest"]["restored"]["external_path"].rstrip("/").endswith(latest.name)
        problems = oracle.finish(stack, names, target, sc, sent)
    finally:
        bridge.stop()
        cluster.down()
    assert problems == [], "\n".join(problems)
