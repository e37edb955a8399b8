"""A seeded stream-processing scenario and the reference model the job must match (RELIABILITY.md).

The scenario: five registered turbines of one site send three channels once a second for 20
(or more) minutes of event time (in the past, aligned to an hour), slightly out of order, with injected
faults (a gearbox temperature spike, a frozen sensor, a power-curve shortfall, a turbine that
goes silent), re-sent duplicates, poison records straight into Kafka, a "tick" from an
unregistered turbine that moves event time past every window, and, once the windows have
fired, readings that arrive too late for them.

The reference computes, from what the bridge acknowledged (V), what every sink must hold:
window rows with pandas, alerts and last-known-good by replaying the udfs rules in arrival
order. Rules come from udfs (they have their own unit and property tests); the reference
proves the plumbing: keying, dedupe, lateness, state, timers, windows and sinks.
"""

from __future__ import annotations

import random
import struct
import time
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from edge_bridge.proto import ingest_pb2 as pb
from edge_bridge.registry import Site, Turbine
from udfs.anomaly import (
    ChannelConfig, ChannelState, LossState, PowerConfig, PowerState, channel_step, loss_on_reading, power_step,
)
from udfs.channels import watches_frozen
from udfs.identity import alert_id, msg_id
from udfs.power_curve import MODELS, expected_power

MODEL = MODELS["AN-3.6-130"]
CHANNELS = ("WMET.HorWdSpd", "WTUR.W", "WTRM.TrmTmpGbxOil")
MINUTES = 20
LOSS_AFTER_MS = 60_000
SAMPLE_MS = 1_000


@dataclass
class Scenario:
    tag: str
    base_ms: int
    site: Site
    turbines: list[Turbine]
    ontime: list[pb.SensorReading]  # in send order
    duplicates: list[pb.SensorReading]
    late: list[pb.SensorReading]
    tick: pb.SensorReading
    poison: list[bytes] = field(default_factory=list)
    ticks: list[pb.SensorReading] = field(default_factory=list)

    def next_tick(self) -> pb.SensorReading:
        """A reading of the (unregistered) tick turbine at the current time."""
        t = pb.SensorReading()
        t.CopyFrom(self.tick)
        t.ts_unix_ms = int(time.time() * 1000) - 2_000
        self.ticks.append(t)
        return t

    @property
    def turbine_ids(self) -> set[str]:
        return {t.turbine_id for t in self.turbines}


def build(tag: str, seed: int = 7, edge_id: str = "edge-oracle", minutes: int = MINUTES) -> Scenario:
    """``minutes`` of event time (at least 20: the injected faults lie in the first 16)."""
    if minutes < MINUTES:
        raise ValueError(f"a scenario spans at least {MINUTES} minutes of event time")
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    hour = 3_600_000
    base = (now - 3 * hour) // hour * hour  # windows up to 1 h all lie well in the past
    site = Site(f"S-{tag}", f"Oracle farm {tag}", "north-sea", 54.0, 7.0)
    turbines = [Turbine(f"O{tag}-T{i}", site.site_id, MODEL.model, 54.0, 7.0 + i / 100, edge_id) for i in range(5)]
    spike, frozen, shortfall, silent = (t.turbine_id for t in turbines[:4])
    rows: list[pb.SensorReading] = []
    wind = {t.turbine_id: 10.0 for t in turbines}
    for s in range(minutes * 60):
        ts = base + s * SAMPLE_MS
        minute = s / 60
        for t in turbines:
            tid = t.turbine_id
            if tid == silent and minute >= 8:
                continue
            wind[tid] = min(11.0, max(9.5, wind[tid] + rng.gauss(0, 0.1)))
            power = expected_power(wind[tid], MODEL) * (1 + rng.gauss(0, 0.01))
            if tid == shortfall and 5 <= minute < 8:
                power *= 0.3
            temp = 60 + rng.gauss(0, 0.5)
            if tid == spike and 6 * 60 <= s < 6 * 60 + 5:
                temp = 80.0
            if tid == frozen and 4 <= minute < 16:
                temp = 61.0
            for channel, value in zip(CHANNELS, (wind[tid], power, temp)):
                rows.append(pb.SensorReading(turbine_id=tid, sensor_id=f"{channel}.1", sensor_type=channel, ts_unix_ms=ts,
                                             value=round(value, 4)))
    # out of order within the watermark bound: shuffle inside 3-second slices
    slice_len = 3 * len(turbines) * len(CHANNELS)
    ontime = []
    for i in range(0, len(rows), slice_len):
        chunk = rows[i:i + slice_len]
        rng.shuffle(chunk)
        ontime += chunk
    duplicates = rng.sample(rows, 300)
    late = [
        pb.SensorReading(turbine_id=r.turbine_id, sensor_id=r.sensor_id, sensor_type=r.sensor_type,
                         ts_unix_ms=r.ts_unix_ms + 500, value=r.value)
        for r in rng.sample([r for r in rows if r.turbine_id != silent], 150)
    ]
    tick = pb.SensorReading(turbine_id=f"tick-{tag}", sensor_id="WMET.HorWdSpd.1", sensor_type="WMET.HorWdSpd",
                            ts_unix_ms=now - 2_000, value=5.0)
    return Scenario(tag, base, site, turbines, ontime, duplicates, late, tick)


def hostile(base_ms: int) -> list[tuple[dict[str, object], str]]:
    """Well-formed Avro readings the bridge would have refused, and the reason the job must give for each: the
    hostile identifiers of RELIABILITY.md, values that are not numbers, a forged msg_id."""
    def reading(**over: object) -> dict[str, object]:
        rec: dict[str, object] = {"turbine_id": "T-hostile", "sensor_id": "WTUR.W.1", "sensor_type": "WTUR.W",
                                  "event_time": base_ms, "value": 1000.0, "edge_id": "edge-oracle", "batch_id": "b-hostile",
                                  "received_at": base_ms}
        rec.update(over)
        rec.setdefault("msg_id", msg_id(str(rec["turbine_id"]), str(rec["sensor_id"]), base_ms))
        return rec
    return [
        (reading(turbine_id="T1'; DROP TABLE x;--"), "BAD_TURBINE_ID"),
        (reading(turbine_id="../x"), "BAD_TURBINE_ID"),
        (reading(turbine_id="\r\nFLUSHALL"), "BAD_TURBINE_ID"),
        (reading(turbine_id="T\x001"), "BAD_TURBINE_ID"),
        (reading(turbine_id="\u04221"), "BAD_TURBINE_ID"),  # Cyrillic Te: looks like T1
        (reading(turbine_id="T" * 10_240), "BAD_TURBINE_ID"),
        (reading(sensor_id="WTUR.W.1/../../etc"), "BAD_SENSOR_ID"),
        (reading(value=float("nan")), "VALUE_NOT_FINITE"),
        (reading(value=float("-inf")), "VALUE_NOT_FINITE"),
        (reading(msg_id="0" * 32), "MSG_ID_MISMATCH"),
    ]


# an incompatible writer schema: the registry holds it under its own subject, and the job's reader cannot resolve it
INCOMPATIBLE_WRITER = {"type": "record", "name": "SensorReading", "namespace": "anemos.telemetry",
                       "fields": [{"name": "turbine_id", "type": "long"}]}


def poison(schema_id: int, base_ms: int = 0, incompatible_id: int | None = None) -> list[bytes]:
    """Inputs only Kafka can carry: bad magic byte, unknown schema id, truncated Avro; then the hostile readings
    (see ``hostile``), and a record written with an incompatible schema when its registry id is given."""
    import schemas
    from edge_bridge.producer import FramedAvroWriter

    out = [b"\x13\x37garbage", struct.pack(">bI", 0, 987654) + b"\x02\x04", struct.pack(">bI", 0, schema_id) + b"\x40ab"]
    write = FramedAvroWriter(schemas.load("sensor_reading"), schema_id)
    out += [write(rec) for rec, _ in hostile(base_ms)]
    if incompatible_id is not None:
        out.append(FramedAvroWriter(INCOMPATIBLE_WRITER, incompatible_id)({"turbine_id": 7}))
    return out


def poison_reasons(with_incompatible: bool = True) -> list[str]:
    """The reason code the job gives each record of ``poison``, sorted."""
    reasons = ["BAD_MAGIC_BYTE", "UNKNOWN_SCHEMA_ID", "UNDECODABLE_AVRO", *(r for _, r in hostile(0))]
    return sorted(reasons + (["UNDECODABLE_AVRO"] if with_incompatible else []))


# -- the reference model ---------------------------------------------------------------------------
def frame(readings: list[pb.SensorReading]) -> pd.DataFrame:
    return pd.DataFrame({
        "turbine_id": [r.turbine_id for r in readings], "sensor_id": [r.sensor_id for r in readings],
        "sensor_type": [r.sensor_type for r in readings], "event_time": [r.ts_unix_ms for r in readings],
        "value": [r.value for r in readings],
    })


def windows(ontime: pd.DataFrame, size_ms: int, keys: list[str]) -> pd.DataFrame:
    """Window statistics as udfs/windows.py defines them, computed directly with pandas."""
    df = ontime.assign(window_start=ontime.event_time - ontime.event_time % size_ms)
    g = df.groupby([*keys, "window_start"])["value"]
    out = pd.DataFrame({
        "sample_count": g.count(), "avg_value": g.mean(), "min_value": g.min(), "max_value": g.max(),
        "stddev_value": g.std(ddof=0), "p50": g.quantile(0.5), "p95": g.quantile(0.95), "p99": g.quantile(0.99),
    }).reset_index()
    if "turbine_id" in keys:
        out["coverage"] = out.sample_count * SAMPLE_MS / size_ms
    else:
        turbines = df.groupby([*keys, "window_start"])["turbine_id"].nunique().reset_index(name="turbines")
        out = out.merge(turbines, on=[*keys, "window_start"])
        out["coverage"] = out.sample_count * SAMPLE_MS / (size_ms * out.turbines)
    return out


def alerts_and_lkg(sc: Scenario) -> tuple[set[tuple[str, str, str, str, int]], dict[str, dict[str, tuple[float, int]]]]:
    """(alert transitions as (turbine, sensor, rule, status, event_time), last-known-good per turbine and channel),
    by replaying the job's per-turbine rules over the new on-time readings in event-time order (then sensor id),
    the order the job judges them in whatever order they arrive."""
    cfg, pcfg = ChannelConfig(), PowerConfig()
    channels: dict[tuple[str, str], ChannelState] = defaultdict(ChannelState)
    power: dict[str, PowerState] = defaultdict(PowerState)
    loss: dict[str, LossState] = defaultdict(LossState)
    lkg: dict[str, dict[str, tuple[float, int]]] = defaultdict(dict)
    alerts = []
    for r in sorted(sc.ontime, key=lambda r: (r.ts_unix_ms, r.sensor_id)):
        key = (r.turbine_id, r.sensor_id)
        new, out = channel_step(channels[key], r.turbine_id, r.sensor_id, r.ts_unix_ms, r.value, cfg, watches_frozen(r.sensor_type))
        alerts += out
        if new is not channels[key] and not (new.zscore_open or new.frozen_open):
            held = lkg[r.turbine_id].get(r.sensor_type)
            if held is None or r.ts_unix_ms > held[1]:
                lkg[r.turbine_id][r.sensor_type] = (r.value, r.ts_unix_ms)
        channels[key] = new
        power[r.turbine_id], out = power_step(power[r.turbine_id], r.turbine_id, r.sensor_type, r.ts_unix_ms, r.value,
                                              MODEL, pcfg)
        alerts += out
        loss[r.turbine_id], out, _ = loss_on_reading(loss[r.turbine_id], r.turbine_id, r.ts_unix_ms, LOSS_AFTER_MS)
        alerts += out
    keyed = {(a.turbine_id, a.sensor_id, a.rule, str(a.status), a.event_time) for a in alerts}
    # every turbine falls silent at the end (the silent one earlier): the tick moves event time past all
    for tid, state in loss.items():
        keyed.add((tid, "", "telemetry_loss", "RAISED", state.last_event_time + LOSS_AFTER_MS))
    return keyed, dict(lkg)


def alert_ids(keyed: set[tuple[str, str, str, str, int]]) -> set[str]:
    return {alert_id(*k) for k in keyed}


def ids(readings: list[pb.SensorReading]) -> set[str]:
    return {msg_id(r.turbine_id, r.sensor_id, r.ts_unix_ms) for r in readings}

