"""A partition that gets nothing for longer than any idle timeout, while the others move on, holds the
watermark back: no reading it brings afterwards is judged late.

That is what an outage of the bridge or the broker looks like to the job: no heartbeat can be written, and
when data comes back, one partition is read before another. With an idle timeout the silent partitions were
taken for idle, the first to read again set the watermark alone, and the on-time readings of the others fell
behind it: judged late, dropped by windows that were ahead, or seen by the rules after their watermark (the
chaos runs at a 10 s timeout in the README). The job's default is now never to take a partition for idle
(the bridge's heartbeats keep quiet ones moving while it runs). Records go straight into the topic here, with
no bridge, so the partitions, their order and the silence are the test's own: the contrast case, a 10 s
timeout, must make the readings of the partition that came last late, or the scenario shows nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from pyiceberg.expressions import EqualTo

from anemos.platform import Names
from anemos.runner import wait_for_rows
from edge_bridge.producer import reading_writer
from iceberg.catalog import open_catalog
from reliability.pipeline import SHORT_IDLE_TIMEOUT_S, committed_rows, new_job
from stack.manager import catalog_properties
from stack.settings import StackSettings
from udfs.identity import msg_id

pytestmark = [pytest.mark.flink, pytest.mark.integration]

PARTITIONS = 4  # the raw topic's
BEFORE, AFTER = 10, 180  # seconds of event time every partition has before the silence; then the partitions one by one
SILENCE_S = SHORT_IDLE_TIMEOUT_S + 8  # longer than the contrast's timeout
CLOSE_AT = BEFORE + AFTER + 120  # one last reading on every partition: all windows of the data end before it
SENSOR = ("WTUR.W.1", "WTUR.W")
EDGE = "edge-outage"


def produce(stack: StackSettings, names: Names, partition: int, seconds: range, base_ms: int) -> int:
    """One turbine per partition, one reading a second of event time, stamped as the bridge stamps them."""
    write = reading_writer(SchemaRegistryClient({"url": stack.registry_url}), names.raw_topic)
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "enable.idempotence": True})
    turbine = f"T-outage-{partition}"
    for s in seconds:
        ts = base_ms + s * 1000
        value = write({"msg_id": msg_id(turbine, SENSOR[0], ts), "turbine_id": turbine, "sensor_id": SENSOR[0],
                       "sensor_type": SENSOR[1], "event_time": ts, "value": 500.0 + s % 7, "edge_id": EDGE,
                       "batch_id": f"b-{partition}-{s}", "received_at": ts})
        producer.produce(names.raw_topic, value, turbine.encode(), partition=partition, timestamp=ts)
    if producer.flush(60) != 0:
        raise RuntimeError("Kafka did not acknowledge every reading")
    return len(seconds)


@pytest.mark.parametrize("idle_timeout_s", [None, SHORT_IDLE_TIMEOUT_S], ids=["default", "idle-10s"])
def test_a_partition_silent_past_the_idle_timeout_holds_the_watermark_by_default(
        stack: StackSettings, names: Names, tmp_path: Path, idle_timeout_s: int | None) -> None:
    # event time an hour back, half a minute into a minute: windows do not depend on the clock
    base_ms = (int(time.time() * 1000) - 3_600_000) // 60_000 * 60_000 + 30_000
    job = new_job(stack, names, tmp_path, extra_args=(
        "--parallelism", "1", *(("--idle-timeout-s", str(idle_timeout_s)) if idle_timeout_s else ())))
    job.start()
    try:
        job.wait_submitted()
        sent = sum(produce(stack, names, p, range(BEFORE), base_ms) for p in range(PARTITIONS))
        wait_for_rows(stack, names.readings_table, sent, edge_id=EDGE, timeout_s=240)
        time.sleep(SILENCE_S)  # nothing on any partition: a broker or bridge outage
        # data comes back on three partitions first, three minutes of it, and the job reads all of it
        sent += sum(produce(stack, names, p, range(BEFORE, BEFORE + AFTER), base_ms) for p in range(PARTITIONS - 1))
        wait_for_rows(stack, names.readings_table, sent, edge_id=EDGE, timeout_s=240)
        # then the last partition's readings of the same minutes, on time by the fleet's clock
        sent += produce(stack, names, PARTITIONS - 1, range(BEFORE, BEFORE + AFTER), base_ms)
        sent += sum(produce(stack, names, p, range(CLOSE_AT, CLOSE_AT + 1), base_ms) for p in range(PARTITIONS))
        wait_for_rows(stack, names.readings_table, sent, edge_id=EDGE, timeout_s=240, settle_s=8)
        late = committed_rows(stack, names.table("late_readings"))
        last = f"T-outage-{PARTITIONS - 1}"
        deadline = time.monotonic() + 120
        while True:  # the last partition's 1-minute windows, every one that ends before CLOSE_AT
            counted = int(open_catalog(catalog_properties(stack)).load_table(names.table("turbine_agg_1m"))
                          .scan(row_filter=EqualTo("turbine_id", last)).to_pandas().sample_count.sum())
            if counted >= BEFORE + AFTER or time.monotonic() > deadline:
                break
            time.sleep(3)
    finally:
        job.stop()

    print(f"idle timeout {idle_timeout_s or 'off'}: {late} readings judged late; "
          f"the last partition's windows hold {counted} of {BEFORE + AFTER}")
    if idle_timeout_s is None:
        assert late == 0, f"{late} readings judged late after the silence: a partition was taken for idle"
        assert counted == BEFORE + AFTER, f"the last partition's windows hold {counted} of {BEFORE + AFTER} readings"
    else:  # the silent partitions went idle, the first three set the watermark alone, the last one's fell behind it
        assert late >= AFTER - 60, f"{late} readings judged late: the idle timeout did not take the partition for idle"
        assert counted < BEFORE + AFTER
