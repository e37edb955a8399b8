"""The per-turbine rules operator's glue without Flink: its input rows (an instant's readings as three lists),
its one state value (through PyFlink's own coder of TURBINE_STATE, as the JVM would store it) and its timers,
with bench.rules_instant's stand-ins for Flink's runtime.

The decisions are udfs.anomaly's and tested there; here: the readings of an instant are judged in sensor-id order
whatever order the lists come in, every state row holds its record's fields in order, and last-known-good values
are staged for the bundle's Redis flush with their event time (values an earlier version kept in state too).
"""

from __future__ import annotations

import random
from dataclasses import astuple
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyflink.common import Row
from pyflink.datastream import TimeDomain

from bench.rules_instant import Context, coder, offline_rules
from flink_jobs.ingest.turbine import TurbineRules, _to_row
from flink_jobs.ingest.types import CHANNEL_STATE, LOSS_STATE, POWER_STATE
from udfs.anomaly import (
    ChannelConfig, ChannelState, LossState, PowerConfig, PowerState, channel_step, loss_on_reading, power_step,
)
from udfs.channels import CHANNELS, watches_frozen
from udfs.power_curve import MODELS
from udfs.validation import ID_PATTERN

pytestmark = pytest.mark.unit

MODEL = MODELS["AN-3.6-130"]
CHANNEL_TYPES = sorted(CHANNELS)[:12]
LOSS_AFTER_MS = 120_000


def operator() -> TurbineRules:
    return offline_rules(loss_after_ms=LOSS_AFTER_MS)


def instants(seed: int, count: int) -> list[tuple[int, list[tuple[str, str, float]]]]:
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        readings = []
        for kind in CHANNEL_TYPES:
            low, high = CHANNELS[kind].low, CHANNELS[kind].high
            # steady with some noise, an exact repeat now and then, and spikes to the channel's limits (z-scores)
            roll = rnd.random()
            value = (low if roll < 0.5 else high) if roll < 0.04 or roll > 0.96 else (low + high) / 2 + rnd.uniform(-1, 1) * (high - low) / 100
            if 0.04 <= roll < 0.3:
                value = (low + high) / 2
            readings.append((f"{kind}.1", kind, round(value, 2)))
        out.append((1_700_000_000_000 + i * 1_000, readings))
    return out


def reference(steps: list[tuple[int, list[tuple[str, str, float]]]]) -> tuple[set[tuple[Any, ...]], dict[str, Any]]:
    """udfs.anomaly applied directly, readings of an instant in sensor-id order."""
    channels: dict[str, ChannelState] = {}
    power, loss, alerts = PowerState(), LossState(), set()
    for event_time, readings in steps:
        loss, out, _ = loss_on_reading(loss, "T1", event_time, LOSS_AFTER_MS)
        alerts |= {(a.sensor_id, a.rule, str(a.status), a.event_time) for a in out}
        for sensor_id, kind, value in sorted(readings):
            channels[sensor_id], out = channel_step(channels.get(sensor_id, ChannelState()), "T1", sensor_id, event_time,
                                                    value, ChannelConfig(), watches_frozen(kind))
            alerts |= {(a.sensor_id, a.rule, str(a.status), a.event_time) for a in out}
            power, out = power_step(power, "T1", kind, event_time, value, MODEL, PowerConfig())
            alerts |= {(a.sensor_id, a.rule, str(a.status), a.event_time) for a in out}
    return alerts, {"channels": channels, "power": power, "loss": loss}


def run(rules: TurbineRules, steps: list[tuple[int, list[tuple[str, str, float]]]], shuffle: random.Random) -> tuple[set[tuple[Any, ...]], Context]:
    ctx, alerts = Context(), set()
    for event_time, readings in steps:
        shown = readings[:]
        shuffle.shuffle(shown)
        batch = Row(turbine_id="T1", event_time_ms=event_time, sensor_ids=",".join(r[0] for r in shown),
                    sensor_types=",".join(r[1] for r in shown), sensor_values=[r[2] for r in shown])
        # alert rows are positional (ALERT_ROW): sensor_id, rule, status, event_time_ms
        alerts |= {(a[3], a[4], a[5], a[7]) for a in rules.process_element(batch, ctx)}
    return alerts, ctx


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_an_instant_is_judged_in_sensor_id_order_whatever_the_lists_order(seed: int, shuffle_seed: int) -> None:
    steps = instants(seed, 60)
    rules = operator()
    alerts, ctx = run(rules, steps, random.Random(shuffle_seed))
    want_alerts, want = reference(steps)
    assert alerts == want_alerts
    rules._state.restore()
    held = rules._read()  # back through the coder, as a restore would read it
    assert {k: ChannelState(*v) for k, v in held.channels.items()} == want["channels"]
    assert (held.power, held.loss) == (want["power"], want["loss"])
    assert ctx.timers.event and not ctx.timers.processing  # loss deadlines only: last-known-good needs no timer


def test_last_known_good_is_staged_for_the_bundle_flush_with_its_event_time_and_not_kept_in_state() -> None:
    rules = operator()
    steps = instants(3, 5)
    run(rules, steps, random.Random(0))
    last_time, last = steps[-1]
    # the turbine once, with the newest value of each channel (the simulated values are all good)
    assert rules._writer._staged == {"T1": ("S1", {kind: (value, last_time) for _, kind, value in last})}
    rules._state.restore()
    assert rules._read().staged == {}


class TimerContext:
    def __init__(self, domain: TimeDomain) -> None:
        self._domain = domain

    def time_domain(self) -> TimeDomain:
        return self._domain

    def get_current_key(self) -> str:
        return "T1"


def earlier_versions_state(rules: TurbineRules, staged: dict[str, tuple[float, int]]) -> None:
    """The turbine's state as a savepoint of a version before 2026-12-05 holds it: values staged for a flush timer."""
    rules._write(rules._read()._replace(staged={c: Row(v, t) for c, (v, t) in staged.items()}))
    rules._state.restore()


def test_values_an_earlier_version_staged_in_state_go_to_the_flush_with_the_next_instant() -> None:
    rules = operator()
    earlier_versions_state(rules, {"WMET.HorWdSpd": (7.5, 500), "XTRA.Old": (1.0, 400)})
    event_time, readings = instants(3, 1)[0]
    run(rules, [(event_time, readings)], random.Random(0))
    site, staged = rules._writer._staged["T1"]
    assert staged["XTRA.Old"] == (1.0, 400)  # a channel this instant did not have
    assert staged["WMET.HorWdSpd"] == (next(v for _, k, v in readings if k == "WMET.HorWdSpd"), event_time)  # newer won
    rules._state.restore()
    assert rules._read().staged == {}


def test_a_flush_timer_an_earlier_version_left_sends_its_staged_values_and_nothing_else() -> None:
    rules = operator()
    earlier_versions_state(rules, {"WNAC.WdSpd": (7.5, 500)})
    assert list(rules.on_timer(1_001_000, TimerContext(TimeDomain.PROCESSING_TIME))) == []
    assert rules._writer._staged == {"T1": ("S1", {"WNAC.WdSpd": (7.5, 500)})}
    rules._state.restore()
    assert rules._read().staged == {}


@pytest.mark.parametrize(("record", "type_info"), [
    (ChannelState(31, 1.5, 0.25, 2.0, 1_000, 2_000, True, False), CHANNEL_STATE),
    (PowerState(7.5, 10, 1.2, 3, True, 11), POWER_STATE),
    (LossState(5_000, True), LOSS_STATE),
])
def test_a_state_row_holds_its_record_field_for_field(record: Any, type_info: Any) -> None:
    row = _to_row(record)
    assert tuple(row) == astuple(record)
    codec = coder(type_info)
    assert type(record)(*codec.decode(codec.encode(row))) == record


def test_wind_is_judged_before_power_within_an_instant_even_when_the_lists_give_power_first() -> None:
    # power far below the curve at 12 m/s from the first instant: with the wind of the same instant judged
    # first, every instant counts towards the streak and the fifth raises; power first would miss the first
    rules, ctx = operator(), Context()
    raised = []
    for i in range(6):
        batch = Row(turbine_id="T1", event_time_ms=1_000 * (i + 1), sensor_ids="WTUR.W.1,WMET.HorWdSpd.1",
                    sensor_types="WTUR.W,WMET.HorWdSpd", sensor_values=[100.0, 12.0])
        raised += [(a[4], a[5], a[7]) for a in rules.process_element(batch, ctx)]
    assert raised == [("power_curve", "RAISED", 5_000)]


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,30}", fullmatch=True), st.integers(0, 31))
def test_a_comma_joins_the_ids_of_an_instant_because_no_valid_id_or_channel_holds_one(ident: str, at: int) -> None:
    # sql/flink/rule_batches.sql joins sensor ids and types with ',' and the rules split them again
    assert ID_PATTERN.fullmatch(ident) is not None
    assert ID_PATTERN.fullmatch(ident[:at] + "," + ident[at:]) is None
    assert not any("," in kind for kind in CHANNELS)
