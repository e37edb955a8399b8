"""The whole path against the reference model: bridge -> Kafka -> job -> Iceberg, Postgres, Redis, Kafka."""

from pathlib import Path

import pytest

from anemos.platform import Names
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from stack.settings import StackSettings
from reliability import oracle
from reliability import scenario as ref
from reliability.pipeline import new_job

pytestmark = [pytest.mark.flink, pytest.mark.integration]


def test_every_sink_equals_the_reference_model(stack: StackSettings, names: Names, tmp_path: Path) -> None:
    sc = ref.build(names.namespace.removeprefix("test_")[:8])
    oracle.register_scenario(stack, sc)
    bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic,
                                              dlq_topic=names.dlq_topic)).start()
    job = new_job(stack, names, tmp_path, extra_args=("--loss-after-ms", str(ref.LOSS_AFTER_MS))).start()
    target = f"127.0.0.1:{bridge.port}"
    try:
        job.wait_submitted()
        sent = oracle.send_ontime(stack, names, target, sc)
        problems = oracle.finish(stack, names, target, sc, sent)
    finally:
        job.stop()
        bridge.stop()
    assert problems == []
