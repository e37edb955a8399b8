"""kill -9 the whole job while the scenario streams in, restore from the latest checkpoint: every sink
still equals the reference (no lost or doubled rows, alerts, window rows or upserts; Redis never back)."""

from pathlib import Path

import pytest

from anemos.platform import Names
from flink_jobs.common import checkpoints
from stack.settings import StackSettings
from reliability import oracle
from reliability import scenario as ref
from reliability.pipeline import new_job

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]



def test_sigkill_mid_stream_then_restore_keeps_the_oracle(stack: StackSettings, names: Names, tmp_path: Path) -> None:
    sc = ref.build(names.namespace.removeprefix("test_")[:8], seed=8)
    oracle.register_scenario(stack, sc)
    bridge = oracle.local_bridge(stack, names)
    job = new_job(stack, names, tmp_path, interval_ms=2_000, extra_args=("--loss-after-ms", str(ref.LOSS_AFTER_MS)))
    target = f"127.0.0.1:{bridge.port}"
    kill = oracle.MidStreamKill(stack, names, sc, job.kill)  # client, JVM and Python workers, no clean shutdown

    try:
        job.start()
        job.wait_submitted()
        sent = oracle.send_ontime(stack, names, target, sc, on_batch=kill)
        kill.assert_mid_stream()
        assert checkpoints.latest(tmp_path / "checkpoints") is not None
        job.start(restore_latest=True)
        job.wait_submitted()
        problems = oracle.finish(stack, names, target, sc, sent)
    finally:
        job.stop()
        bridge.stop()
    assert "restored_from=file:" in (tmp_path / "job.log").read_text()
    assert problems == []
