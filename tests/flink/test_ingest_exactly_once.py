"""gRPC -> Kafka -> PyFlink (local mini-cluster) -> Iceberg on S3, exactly once, poison included."""

import base64
import json
import struct
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from anemos.platform import Names
from anemos.runner import wait_for_rows
from edge_bridge import simulator
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from flink_jobs.common import checkpoints
from stack.settings import StackSettings
from reliability.kafka_read import read_all, transactional_ids
from reliability.pipeline import check_commit_history, commit_history, new_job

pytestmark = [pytest.mark.flink, pytest.mark.integration]

N = 10_000


def test_readings_sent_through_grpc_land_in_iceberg_exactly_once(stack: StackSettings, names: Names, tmp_path: Path) -> None:
    bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic, dlq_topic=names.dlq_topic)).start()
    job = new_job(stack, names, tmp_path, interval_ms=1_000).start()
    try:
        job.wait_submitted()
        report = simulator.send(f"127.0.0.1:{bridge.port}", N, turbines=7, batch_size=1000, seed=11, edge_id="edge-it")
        assert report.accepted == N and len(report.accepted_ids) == N

        # poison straight into the topic: a wrong magic byte, an unknown schema id, truncated Avro
        from confluent_kafka.schema_registry import SchemaRegistryClient

        schema_id = SchemaRegistryClient({"url": stack.registry_url}).get_latest_version(f"{names.raw_topic}-value").schema_id
        poison = [b"\x13\x37garbage", struct.pack(">bI", 0, 424242) + b"\x02\x04", struct.pack(">bI", 0, schema_id) + b"\x40ab"]
        p = Producer({"bootstrap.servers": stack.kafka_bootstrap, "enable.idempotence": True})
        for raw in poison:
            p.produce(names.raw_topic, key=b"T-poison", value=raw)
        assert p.flush(30) == 0

        ids = wait_for_rows(stack, names.readings_table, N, timeout_s=300, settle_s=8)
        dlq = [json.loads(m.value()) for m in read_all(stack.kafka_bootstrap, names.dlq_topic, expected=3, timeout_s=60)]
        newest_checkpoint = wait_for_checkpoints(tmp_path / "checkpoints", 8)
    finally:
        job.stop()
        bridge.stop()

    assert len(ids) == N, f"{len(ids)} rows for {N} readings"
    assert set(ids) == report.accepted_ids
    assert sorted(d["reason_code"] for d in dlq) == ["BAD_MAGIC_BYTE", "UNDECODABLE_AVRO", "UNKNOWN_SCHEMA_ID"]
    assert {base64.b64decode(d["raw_value"]) for d in dlq} == set(poison)
    assert all(d["source_topic"] == names.raw_topic and d["source_offset"] >= 0 and d["stage"] == "flink-decode" for d in dlq)
    history = commit_history(stack, names.readings_table)
    assert history and check_commit_history(history) == []

    # the three Kafka sinks reuse a small pool of transactional ids (POOLING) instead of leaving the broker a new
    # one per checkpoint for 7 days (INCREMENTING, the default, would leave one per sink per checkpoint: 24 or more)
    txn_ids = transactional_ids(stack, f"{job.job_name}-")
    assert {t.rsplit("-", 2)[0] for t in txn_ids} == {f"{job.job_name}-{s}" for s in ("aggregates", "alerts", "dlq")}
    assert len(txn_ids) <= 3 * 3, f"{len(txn_ids)} transactional ids after {newest_checkpoint} checkpoints: {txn_ids}"


def wait_for_checkpoints(checkpoint_dir: Path, n: int, timeout_s: float = 120) -> int:
    """The id of the newest completed checkpoint (``<job id>/chk-N`` with its ``_metadata``) once it is ``n`` or more."""
    deadline = time.monotonic() + timeout_s
    while True:
        newest = checkpoints.latest(checkpoint_dir)
        done = int(newest.name.removeprefix("chk-")) if newest else 0
        if done >= n or time.monotonic() > deadline:
            assert done >= n, f"checkpoint {done} the newest after {timeout_s} s, wanted {n}"
            return done
        time.sleep(0.5)
