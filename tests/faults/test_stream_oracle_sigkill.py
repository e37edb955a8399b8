"""kill -9 the whole job while the scenario streams in, restore from the latest checkpoint: every sink
still equals the reference (no lost or doubled rows, alerts, window rows or upserts; Redis never back)."""

from pathlib import Path

import pytest

from anemos.platform import Names
from anemos.runner import wait_for_rows
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from flink_jobs.common import checkpoints
from stack.settings import StackSettings
from tests import oracle
from tests import scenario as ref
from tests.pipeline import new_job

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]

WAIT_COMMIT_AT, KILL_AT = 6, 14  # batches of 500 readings: the kill lands mid-stream, after a commit


def test_sigkill_mid_stream_then_restore_keeps_the_oracle(stack: StackSettings, names: Names, tmp_path: Path) -> None:
    sc = ref.build(names.namespace.removeprefix("test_")[:8], seed=8)
    oracle.register_scenario(stack, sc)
    bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic,
                                              dlq_topic=names.dlq_topic)).start()
    job = new_job(stack, names, tmp_path, interval_ms=2_000, extra_args=("--loss-after-ms", str(ref.LOSS_AFTER_MS)))
    target = f"127.0.0.1:{bridge.port}"
    batches = 0
    killed_with: list[int] = []

    def on_batch(_n: int) -> None:
        nonlocal batches
        batches += 1
        if batches == WAIT_COMMIT_AT:
            wait_for_rows(stack, names.readings_table, 1, timeout_s=240)
        if batches == KILL_AT:
            job.kill()  # client, JVM and Python workers, no clean shutdown
            killed_with.append(len(oracle._scan(stack, names, "readings", "turbine_id", sc.turbine_ids)))

    try:
        job.start()
        job.wait_submitted()
        sent = oracle.send_ontime(stack, names, target, sc, on_batch=on_batch)
        assert killed_with and 0 < killed_with[0] < len(sc.ontime), f"kill was not mid-stream: {killed_with}"
        assert checkpoints.latest(tmp_path / "checkpoints") is not None
        job.start(restore_latest=True)
        job.wait_submitted()
        problems = oracle.finish(stack, names, target, sc, sent)
    finally:
        job.stop()
        bridge.stop()
    assert "restored_from=file:" in (tmp_path / "job.log").read_text()
    assert problems == []
