"""Re-publish to Kafka what the job committed to Iceberg but Kafka lost.

The job writes every output twice: to its Iceberg table (the system of record) and to a Kafka topic (for
subscribers), each sink committing on the same checkpoint. When Kafka is down for longer than the sink's
``transaction.timeout.ms`` while a completed checkpoint's transaction awaits its commit, the restarted
broker aborts that transaction: Flink logs it and counts it in the committer's ``failedCommittables``
(``anemos cluster sinks`` reports it), and the rows stay only in Iceberg.

``repair`` compares the rows Iceberg snapshots added in a time range with what the topic holds (read
committed), by each output's natural key, and produces the missing rows in one Kafka transaction, in the
job's JSON format. A row found on Kafka is never produced again, so running it twice does nothing more.
Rows from the newest ``settle_s`` of commits are left alone: their Kafka commit may still be in flight.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow.parquet as pq
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from pyiceberg.manifest import ManifestContent, ManifestEntryStatus
from pyiceberg.table import Table
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from anemos.platform import Names
from iceberg.catalog import open_catalog
from stack.manager import catalog_properties
from stack.settings import StackSettings

log = logging.getLogger("anemos.repair")

AGG_COLUMNS = ["turbine_id", "sensor_id", "sensor_type", "site_id", "window_start", "window_end", "sample_count", "avg_value",
               "min_value", "max_value", "stddev_value", "p50", "p95", "p99", "coverage", "version"]
ALERT_COLUMNS = ["alert_id", "turbine_id", "site_id", "sensor_id", "rule", "status", "severity", "event_time", "value",
                 "evidence", "detected_at"]
DLQ_COLUMNS = ["reason_code", "detail", "stage", "raw_value", "source_topic", "source_partition", "source_offset",
               "detected_at"]


def flink_timestamp(value: Any) -> str | None:
    """A TIMESTAMP_LTZ as Flink's JSON format writes it: ``2026-11-22 12:00:00Z``, ``... 15:55:35.152Z``."""
    if value is None:
        return None
    ts = value if isinstance(value, datetime) else datetime.fromtimestamp(int(value) / 1e6, timezone.utc)
    ts = ts.astimezone(timezone.utc)
    fraction = f"{ts.microsecond:06d}".rstrip("0")
    return ts.strftime("%Y-%m-%d %H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return flink_timestamp(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


@dataclass(frozen=True)
class Output:
    """One Kafka output of the job and the Iceberg table(s) holding the same rows."""

    name: str
    tables: dict[str, dict[str, Any]]  # table -> constant columns the Kafka record adds (the grain)
    columns: list[str]
    natural_key: Callable[[dict[str, Any]], tuple[Any, ...]]
    record_key: str | None  # the column used as the Kafka message key

    def topic(self, names: Names) -> str:
        return {"aggregates": names.aggregates_topic, "alerts": names.alerts_topic, "dlq": names.dlq_topic}[self.name]

    def record(self, row: dict[str, Any], constants: dict[str, Any]) -> dict[str, Any]:
        return {**constants, **{c: _json_value(row.get(c)) for c in self.columns}}


OUTPUTS: dict[str, Output] = {o.name: o for o in (
    Output("aggregates", {"turbine_agg_1m": {"grain": "1m"}, "turbine_agg_10m": {"grain": "10m"}}, AGG_COLUMNS,
           lambda r: (r.get("grain"), r.get("turbine_id"), r.get("sensor_id"), r.get("window_start"), r.get("version")), "turbine_id"),
    Output("alerts", {"alerts": {}}, ALERT_COLUMNS, lambda r: (r.get("alert_id"),), "turbine_id"),
    Output("dlq", {"rejected": {}}, DLQ_COLUMNS,
           lambda r: (r.get("source_topic"), r.get("source_partition"), r.get("source_offset"), r.get("reason_code")), None),
)}


@dataclass
class OutputRepair:
    output: str
    topic: str
    iceberg_rows: int  # rows the range's snapshots added
    on_kafka: int  # of those, found on the topic
    missing: int
    produced: int
    sample: list[str] = field(default_factory=list)  # natural keys of a few missing rows


def added_rows(table: Table, since_ms: int, until_ms: int) -> Iterator[dict[str, Any]]:
    """Rows the table's append/overwrite snapshots committed in [since_ms, until_ms) (compactions skipped)."""
    for snap in table.metadata.snapshots:
        operation = snap.summary.operation.value if snap.summary else ""
        if not since_ms <= snap.timestamp_ms < until_ms or operation not in ("append", "overwrite"):
            continue
        for manifest in snap.manifests(table.io):
            if manifest.added_snapshot_id != snap.snapshot_id or manifest.content != ManifestContent.DATA:
                continue
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                if entry.status == ManifestEntryStatus.ADDED and entry.snapshot_id == snap.snapshot_id:
                    with table.io.new_input(entry.data_file.file_path).open() as f:
                        yield from pq.read_table(f).to_pylist()


# a topic created moments ago may not have its partition leaders known yet (NOT_LEADER_FOR_PARTITION from a lookup
# of offsets): the broker settles within seconds, so such errors are retried, and any other error is raised at once
_TRANSIENT = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART,
              KafkaError._TIMED_OUT, KafkaError._TRANSPORT}


def _transient(err: BaseException) -> bool:
    return isinstance(err, KafkaException) and isinstance(err.args[0], KafkaError) and (
        err.args[0].code() in _TRANSIENT or err.args[0].retriable())


def topic_bounds(consumer: Any, topic: str, since_ms: int, retry_s: float = 30.0) -> tuple[list[TopicPartition], dict[int, int]]:
    """Each partition's first offset at or after ``since_ms`` and its end offset now, retried while the broker is
    still electing the topic's leaders."""
    for attempt in Retrying(retry=retry_if_exception(_transient), stop=stop_after_delay(retry_s),
                            wait=wait_exponential_jitter(multiplier=0.2, max=2.0), reraise=True):
        with attempt:
            meta = consumer.list_topics(topic, timeout=30).topics[topic]
            if meta.error is not None:
                raise KafkaException(meta.error)
            starts = consumer.offsets_for_times([TopicPartition(topic, p, since_ms) for p in meta.partitions], timeout=30)
            ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in meta.partitions}
    return starts, ends


def topic_records(bootstrap: str, topic: str, since_ms: int, idle_s: float = 3.0, timeout_s: float = 120.0) -> list[dict[str, Any]]:
    """Committed records of ``topic`` written since ``since_ms`` (read_committed, up to the end offsets now)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"anemos-repair-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "isolation.level": "read_committed", "auto.offset.reset": "earliest"})
    try:
        starts, ends = topic_bounds(consumer, topic, since_ms)
        todo = {tp.partition: tp for tp in starts if tp.offset >= 0 and tp.offset < ends[tp.partition]}
        consumer.assign(list(todo.values()))
        out: list[dict[str, Any]] = []
        deadline, quiet = time.monotonic() + timeout_s, time.monotonic()
        while todo and time.monotonic() < deadline and time.monotonic() - quiet < idle_s:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            quiet = time.monotonic()
            try:
                out.append(json.loads(msg.value()))
            except (TypeError, ValueError):
                log.warning("%s[%d]@%d is not JSON; skipped", topic, msg.partition(), msg.offset())
            if msg.offset() + 1 >= ends[msg.partition()]:
                todo.pop(msg.partition(), None)
        return out
    finally:
        consumer.close()


def plan(stack: StackSettings, names: Names, output: Output, since_ms: int, until_ms: int,
         kafka_margin_ms: int) -> tuple[list[dict[str, Any]], OutputRepair]:
    """The rows of ``output`` that Iceberg added in the range and the topic does not hold."""
    catalog = open_catalog(catalog_properties(stack))
    rows: list[dict[str, Any]] = []
    for table, constants in output.tables.items():
        tbl = catalog.load_table(names.table(table))
        rows += [output.record(r, constants) for r in added_rows(tbl, since_ms, until_ms)]
    if output.name == "dlq":  # the job's own dead letters only: the bridge writes its own straight to Kafka
        rows = [r for r in rows if r["source_topic"] == names.raw_topic]
    topic = output.topic(names)
    held = {output.natural_key(r) for r in topic_records(stack.kafka_bootstrap, topic, max(0, since_ms - kafka_margin_ms))}
    missing = [r for r in rows if output.natural_key(r) not in held]
    return missing, OutputRepair(output.name, topic, len(rows), len(rows) - len(missing), len(missing), 0,
                                 [" ".join(map(str, output.natural_key(r))) for r in missing[:3]])


def produce(stack: StackSettings, topic: str, output: Output, rows: list[dict[str, Any]]) -> int:
    """All of ``rows`` in one Kafka transaction: subscribers reading committed see all of them or none."""
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "transactional.id": f"anemos-repair-{topic}",
                         "enable.idempotence": True})
    producer.init_transactions(30)
    producer.begin_transaction()
    for row in rows:
        key = row.get(output.record_key) if output.record_key else None
        producer.produce(topic, key=key.encode() if key else None, value=json.dumps(row, separators=(",", ":")).encode())
        producer.poll(0)
    producer.commit_transaction(60)
    return len(rows)


def repair(stack: StackSettings, names: Names, outputs: list[str], since_ms: int, settle_s: float = 60.0,
           kafka_margin_ms: int = 3_600_000, dry_run: bool = False) -> list[OutputRepair]:
    """Compare and (unless ``dry_run``) re-publish each output; returns what was found and done."""
    until_ms = int(time.time() * 1000 - settle_s * 1000)
    done = []
    for name in outputs:
        output = OUTPUTS[name]
        missing, report = plan(stack, names, output, since_ms, until_ms, kafka_margin_ms)
        if missing and not dry_run:
            report.produced = produce(stack, report.topic, output, missing)
            log.warning("re-published %d %s rows that Iceberg holds and %s did not", report.produced, name, report.topic)
        done.append(report)
    return done
