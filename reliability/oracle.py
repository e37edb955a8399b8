"""Drive a scenario through bridge -> Kafka -> job -> sinks, and check every sink against the reference."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import psycopg
import redis
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from pyiceberg.expressions import In

from anemos.platform import Names
from anemos.runner import IngestJob, wait_for_rows
from edge_bridge import simulator
from edge_bridge.registry import register
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from flink_jobs.ingest.sinks import lkg_key
from iceberg.catalog import open_catalog
from reliability import scenario as ref
from reliability.kafka_read import read_all
from reliability.pipeline import check_commit_history, commit_history
from stack.manager import catalog_properties
from stack.settings import StackSettings
from udfs import epoch

TABLES = ("readings", "turbine_agg_1m", "turbine_agg_10m", "site_agg_1h", "alerts", "late_readings", "rejected")
STATS = ("sample_count", "avg_value", "min_value", "max_value", "stddev_value", "p50", "p95", "p99", "coverage")


@dataclass
class Sent:
    accepted: set[str]  # V: what the bridge acknowledged (on time, duplicates and late)
    poison: list[bytes]


def _poll(what: str, check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(2)


def _pg(stack: StackSettings, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(stack.postgres_dsn, options="-c timezone=UTC") as conn:
        return conn.execute(query, params).fetchall()


def local_bridge(stack: StackSettings, names: Names) -> Bridge:
    """A started bridge on a free loopback port (plaintext) that writes to the pipeline's topics."""
    return Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic,
                                            dlq_topic=names.dlq_topic)).start()


def register_scenario(stack: StackSettings, sc: ref.Scenario) -> None:
    register(stack.postgres_dsn, [sc.site], sc.turbines)


@dataclass
class MidStreamKill:
    """An ``on_batch`` hook for send_ontime: at one batch, wait for a first Iceberg commit; at a later one,
    run ``kill`` and record how many of the scenario's rows were stored at that moment."""

    stack: StackSettings
    names: Names
    sc: ref.Scenario
    kill: Callable[[], object]
    wait_commit_at: int = 6  # batches of 500 readings: the kill lands mid-stream, after a commit
    kill_at: int = 14
    batches: int = 0
    rows_at_kill: int | None = None

    def __call__(self, _n: int) -> None:
        self.batches += 1
        # the sender waits here, often for longer than the job's idle timeout: the bridge's heartbeats keep
        # every partition at the event time the fleet stopped at (tests/flink/test_fleet_silence.py)
        if self.batches == self.wait_commit_at:
            wait_for_rows(self.stack, self.names.readings_table, 1, timeout_s=240)
        if self.batches == self.kill_at:
            self.kill()
            self.rows_at_kill = len(_scan(self.stack, self.names, "readings", "turbine_id", self.sc.turbine_ids))

    def assert_mid_stream(self) -> None:
        assert self.rows_at_kill is not None and 0 < self.rows_at_kill < len(self.sc.ontime), \
            f"kill was not mid-stream: {self.rows_at_kill} rows stored"


@dataclass
class KillAtBatch:
    """An ``on_batch`` hook for simulator.send: run ``kill`` after the ``at``-th batch, from the sender's own
    thread, so the kill lands mid-stream however fast the job drains (a kill 2.5 s into a send once came after
    every reading was stored); ``done`` is set once it ran, ``killed_at`` (monotonic) is when."""

    kill: Callable[[], object]
    at: int = 3
    batches: int = 0
    killed_at: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)

    def __call__(self, _n: int) -> None:
        self.batches += 1
        if self.batches == self.at:
            self.kill()
            self.killed_at = time.monotonic()
            self.done.set()

    def wait(self, timeout_s: float = 120.0) -> None:
        assert self.done.wait(timeout=timeout_s), f"the sender never reached batch {self.at}, where the kill is"


def with_fault_mid_stream(stack: StackSettings, names: Names, sc: ref.Scenario, job: IngestJob, bridge: Bridge,
                          fault: Callable[[], object], after_send: Callable[[], object] = lambda: None) -> list[str]:
    """The local job started, the scenario sent through ``bridge`` with ``fault`` mid-stream (after a first
    commit), ``after_send``, then the strict oracle; the job and the bridge are stopped whatever happens."""
    target = f"127.0.0.1:{bridge.port}"
    hook = MidStreamKill(stack, names, sc, fault)
    try:
        job.start()
        job.wait_submitted()
        sent = send_ontime(stack, names, target, sc, on_batch=hook)
        hook.assert_mid_stream()
        after_send()
        return finish(stack, names, target, sc, sent)
    finally:
        job.stop()
        bridge.stop()


def send_ontime(stack: StackSettings, names: Names, target: str, sc: ref.Scenario,
                on_batch: Callable[[int], None] | None = None) -> Sent:
    """On-time readings, then duplicates of some of them, then poison straight into Kafka."""
    report = simulator.send_readings(target, sc.ontime, batch_size=500, edge_id="edge-oracle", on_batch=on_batch)
    dup = simulator.send_readings(target, sc.duplicates, batch_size=500, edge_id="edge-oracle")
    assert report.rejected == 0 and dup.rejected == 0, "the bridge refused scenario readings"
    return Sent(report.accepted_ids | dup.accepted_ids, send_poison(stack, names, sc))


def send_poison(stack: StackSettings, names: Names, sc: ref.Scenario) -> list[bytes]:
    """The scenario's poison records (D), produced straight into the raw topic; returns them once Kafka has them."""
    return produce_poison(stack, names, sc, make_poison(stack, names, sc))


def make_poison(stack: StackSettings, names: Names, sc: ref.Scenario) -> list[bytes]:
    """D, framed with the raw subject's schema id and an incompatible writer schema registered for the purpose."""
    registry = SchemaRegistryClient({"url": stack.registry_url})
    schema_id = registry.get_latest_version(f"{names.raw_topic}-value").schema_id
    incompatible = registry.register_schema(f"{names.raw_topic}-incompatible-writer",
                                            Schema(json.dumps(ref.INCOMPATIBLE_WRITER), "AVRO"))
    return ref.poison(schema_id, sc.base_ms, incompatible)


def produce_poison(stack: StackSettings, names: Names, sc: ref.Scenario, poison: list[bytes]) -> list[bytes]:
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "enable.idempotence": True})
    for raw in poison:  # stamped with an old time: poison must not move the watermark either
        producer.produce(names.raw_topic, key=b"T-poison", value=raw, timestamp=sc.base_ms)
    if producer.flush(60) != 0:
        raise RuntimeError("Kafka did not acknowledge the poison records")
    return poison


def close_windows_then_send_late(stack: StackSettings, target: str, sc: ref.Scenario, sent: Sent,
                                 timeout_s: float = 300) -> None:
    """Ticks move event time past every window; once the site's hour is in Postgres, send the late ones.

    The tick turbine keeps sending (once a second, as a live turbine does) until then: when every
    partition falls silent at once, they all turn idle together and the watermark stays where it was.
    """
    def fired() -> bool:
        tick = sc.next_tick()
        simulator.send_readings(target, [tick], edge_id="edge-oracle")
        return bool(_pg(stack, "SELECT 1 FROM site_agg_1h WHERE site_id = %s", sc.site.site_id))

    _poll("the site's 1-hour row in Postgres (all windows fired)", fired, timeout_s)
    late = simulator.send_readings(target, sc.late, batch_size=500, edge_id="edge-oracle")
    assert late.rejected == 0
    sent.accepted |= late.accepted_ids


def finish(stack: StackSettings, names: Names, target: str, sc: ref.Scenario, sent: Sent,
           timeout_s: float = 300) -> list[str]:
    """Close the windows, send the late readings, wait for every sink (``timeout_s`` each), then check them all."""
    close_windows_then_send_late(stack, target, sc, sent, timeout_s)
    wait_for_sinks(stack, names, sc, sent, timeout_s)
    return verify(stack, names, sc, sent)


def made_late(stack: StackSettings, names: Names, sc: ref.Scenario) -> set[str]:
    """msg_ids of on-time readings the job found behind its watermark (only faults make those)."""
    late = _scan(stack, names, "late_readings", "turbine_id", sc.turbine_ids)
    return set(late.msg_id) - ref.ids(sc.late)


def _scan(stack: StackSettings, names: Names, table: str, column: str, values: set[str]) -> pd.DataFrame:
    tbl = open_catalog(catalog_properties(stack)).load_table(names.table(table))
    return tbl.scan(row_filter=In(column, values)).to_pandas()


def wait_for_sinks(stack: StackSettings, names: Names, sc: ref.Scenario, sent: Sent, timeout_s: float = 300) -> None:
    turbines = sc.turbine_ids
    expected_raw = len(ref.ids(sc.ontime) | ref.ids(sc.late))
    alerts_expected = len(ref.alerts_and_lkg(sc)[0])
    _poll("raw readings in Iceberg", lambda: len(_scan(stack, names, "readings", "turbine_id", turbines)) >= expected_raw,
          timeout_s)
    _poll("late readings in Iceberg",
          lambda: len(_scan(stack, names, "late_readings", "turbine_id", turbines)) >= len(sc.late), timeout_s)
    _poll("alerts in Iceberg", lambda: len(_scan(stack, names, "alerts", "turbine_id", turbines)) >= alerts_expected,
          timeout_s)
    time.sleep(8)  # a further checkpoint: anything duplicated would show now


def rejected_rows(stack: StackSettings, names: Names) -> pd.DataFrame:
    """The dead letters of the pipeline's raw topic in Iceberg."""
    return _scan(stack, names, "rejected", "source_topic", {names.raw_topic})


def _ms(ts: Any) -> int:
    return epoch.millis(pd.Timestamp(ts))


def _compare(name: str, want: pd.DataFrame, got: dict[tuple[Any, ...], dict[str, float]], keys: list[str]) -> list[str]:
    problems = []
    expected = {tuple(row[k] for k in keys): row for row in want.to_dict("records")}
    if set(expected) != set(got):
        missing, extra = set(expected) - set(got), set(got) - set(expected)
        problems.append(f"{name}: {len(missing)} rows missing (e.g. {sorted(missing)[:2]}), "
                        f"{len(extra)} unexpected (e.g. {sorted(extra)[:2]})")
    for key in set(expected) & set(got):
        for stat in STATS:
            a, b = float(expected[key][stat]), float(got[key][stat])
            if not math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6):
                problems.append(f"{name} {key} {stat}: reference {a} job {b}")
    return problems


def verify(stack: StackSettings, names: Names, sc: ref.Scenario, sent: Sent) -> list[str]:
    """Oracle points (a) to (f) of RELIABILITY.md over Iceberg, Postgres, Redis and Kafka.

    Strict, whatever faults came before: the late rows are exactly the readings sent late, and the windows,
    alerts and last-known-good values are the reference's over every reading sent on time.
    """
    problems: list[str] = []
    turbines = sc.turbine_ids
    late_ids = ref.ids(sc.late)
    v = sent.accepted  # the ticks are not in it: their turbine is not in the scenario
    # (a) raw: count == distinct == V
    raw = _scan(stack, names, "readings", "turbine_id", turbines)
    if len(raw) != raw.msg_id.nunique() or set(raw.msg_id) != v:
        problems.append(f"(a) raw: {len(raw)} rows, {raw.msg_id.nunique()} distinct, V has {len(v)}; "
                        f"missing {len(v - set(raw.msg_id))}, unexpected {len(set(raw.msg_id) - v)}")
    # late rows are exactly the readings sent after their windows fired
    late = _scan(stack, names, "late_readings", "turbine_id", turbines)
    if sorted(late.msg_id) != sorted(late_ids):
        problems.append(f"late: {len(late)} rows, {late.msg_id.nunique()} distinct, expected the {len(late_ids)} sent late")
    # (b) aggregates in Iceberg and Postgres
    ontime = ref.frame(sc.ontime)
    want = {
        "turbine_agg_1m": (ref.windows(ontime, 60_000, ["turbine_id", "sensor_id"]), ["turbine_id", "sensor_id", "window_start"]),
        "turbine_agg_10m": (ref.windows(ontime, 600_000, ["turbine_id", "sensor_id"]), ["turbine_id", "sensor_id", "window_start"]),
        "site_agg_1h": (ref.windows(ontime, 3_600_000, ["sensor_type"]).assign(site_id=sc.site.site_id),
                        ["site_id", "sensor_type", "window_start"]),
    }
    window_total = 0
    for table, (expected, keys) in want.items():
        column, values = ("site_id", {sc.site.site_id}) if table == "site_agg_1h" else ("turbine_id", turbines)
        ice = _scan(stack, names, table, column, values)
        if table == "turbine_agg_1m":
            window_total = int(ice.sample_count.sum())
        if len(ice) != len(ice.drop_duplicates(keys)):
            problems.append(f"(b) Iceberg {table}: duplicate window rows")
        got = {tuple(_ms(r[k]) if k == "window_start" else r[k] for k in keys): r for r in ice.to_dict("records")}
        problems += _compare(f"(b) Iceberg {table}", expected, got, keys)
        cols = ", ".join([*keys, *STATS])
        rows = _pg(stack, f"SELECT {cols} FROM {table} WHERE {column} = ANY(%s)", list(values))  # noqa: S608 (fixed names)
        pg = {tuple(_ms(x) if k == "window_start" else x for k, x in zip(keys, r[:len(keys)])): dict(zip(STATS, r[len(keys):]))
              for r in rows}
        problems += _compare(f"(b) Postgres {table}", expected, pg, keys)
    # (c) dead letters: exactly the poison, with reason, raw bytes and origin
    rejected = rejected_rows(stack, names)
    if sorted(rejected.raw_value) != sorted(sent.poison):
        problems.append(f"(c) rejected: {len(rejected)} rows, expected the {len(sent.poison)} poison records")
    if sorted(rejected.reason_code) != ref.poison_reasons():
        problems.append(f"(c) reasons {sorted(rejected.reason_code)}, expected {ref.poison_reasons()}")
    if rejected.source_offset.isna().any() or (rejected.source_offset < 0).any():
        problems.append("(c) a dead letter without its Kafka origin")
    # (d) alerts: equal the reference, no duplicates, in Iceberg and on Kafka
    keyed, lkg = ref.alerts_and_lkg(sc)
    want_ids = ref.alert_ids(keyed)
    ice_alerts = _scan(stack, names, "alerts", "turbine_id", turbines)
    if len(ice_alerts) != ice_alerts.alert_id.nunique():
        problems.append("(d) Iceberg alerts: an alert stored twice")
    if sorted(ice_alerts.alert_id) != sorted(want_ids):
        got_keys = {(r["turbine_id"], r["sensor_id"], r["rule"], r["status"], _ms(r["event_time"]))
                    for r in ice_alerts.to_dict("records")}
        problems.append(f"(d) Iceberg alerts: {len(ice_alerts)} rows, expected {len(want_ids)}; "
                        f"missing {sorted(keyed - got_keys)[:3]}, unexpected {sorted(got_keys - keyed)[:3]}")
    kafka_alerts = [json.loads(m.value()) for m in read_all(stack.kafka_bootstrap, names.alerts_topic, timeout_s=30)]
    kafka_ids = Counter(a["alert_id"] for a in kafka_alerts if a["turbine_id"] in turbines)
    # Kafka holds each alert once, and the same alerts as Iceberg (so, with the check above, the reference)
    if max(kafka_ids.values(), default=1) != 1 or set(kafka_ids) != set(ice_alerts.alert_id):
        problems.append(f"(d) Kafka alerts: {sum(kafka_ids.values())} records, {len(kafka_ids)} distinct; "
                        f"Iceberg has {ice_alerts.alert_id.nunique()}")
    # (b) Kafka aggregates: each window row once, committed
    aggs = [json.loads(m.value()) for m in read_all(stack.kafka_bootstrap, names.aggregates_topic, timeout_s=30)]
    agg_keys = Counter((a["grain"], a["turbine_id"], a["sensor_id"], a["window_start"]) for a in aggs if a["turbine_id"] in turbines)
    n_expected = len(want["turbine_agg_1m"][0]) + len(want["turbine_agg_10m"][0])
    if len(agg_keys) != n_expected or max(agg_keys.values(), default=1) != 1:
        problems.append(f"(b) Kafka aggregates: {sum(agg_keys.values())} records, {len(agg_keys)} distinct, expected {n_expected}")
    # last-known-good in Redis: the newest good reading per channel, never older
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    for tid, channels in lkg.items():
        stored = client.hgetall(lkg_key(names.redis_prefix, tid))
        for channel, (value, t) in channels.items():
            if stored.get(f"{channel}:t") != str(t) or not math.isclose(float(stored.get(channel, "nan")), value):
                problems.append(f"Redis {tid} {channel}: stored {stored.get(channel)}@{stored.get(f'{channel}:t')}, "
                                f"reference {value}@{t}")
    # (e) committer history of every table
    for table in TABLES:
        history = commit_history(stack, names.table(table))
        problems += [f"(e) {table}: {p}" for p in check_commit_history(history)]
    # (f) window counts plus late rows == |V|
    counted = window_total + len(late)
    if counted != len(v):
        problems.append(f"(f) 1-minute window counts + late rows = {counted}, |V| = {len(v)}")
    made = late[~late.msg_id.isin(late_ids)]
    if problems and len(made):  # last: a log's tail shows it, and it names the usual cause of (b) and (f) lines
        problems.append(made_late_summary(made))
    return problems


def made_late_summary(made: pd.DataFrame) -> str:
    """One line on on-time readings the job judged late: where they came from and how far behind they were."""
    event_ms = made.event_time.map(_ms)
    behind_s = (made.arrival_watermark.map(_ms) - event_ms) / 1000
    return (f"{len(made)} on-time readings were judged late: turbines {sorted(made.turbine_id.unique())}, "
            f"kafka partitions {sorted(int(p) for p in made.kafka_partition.unique())}, "
            f"event time {event_ms.min()} to {event_ms.max()}, "
            f"behind the watermark by {behind_s.min():.1f} to {behind_s.max():.1f} s")


def counts(stack: StackSettings, names: Names, sc: ref.Scenario, sent: Sent) -> dict[str, int]:
    """What the sinks hold for the scenario, for a run's summary."""
    turbines = sc.turbine_ids
    out = {"acknowledged (V)": len(sent.accepted), "dead-letter inputs (D)": len(sent.poison)}
    for table in ("readings", "late_readings", "turbine_agg_1m", "turbine_agg_10m", "alerts"):
        out[f"iceberg {table}"] = len(_scan(stack, names, table, "turbine_id", turbines))
    out["iceberg site_agg_1h"] = len(_scan(stack, names, "site_agg_1h", "site_id", {sc.site.site_id}))
    out["iceberg rejected"] = len(rejected_rows(stack, names))
    late = _scan(stack, names, "late_readings", "turbine_id", turbines)
    made = late[late.msg_id.isin(made_late(stack, names, sc))]
    out["on-time readings made late by faults"] = len(made)
    return out
