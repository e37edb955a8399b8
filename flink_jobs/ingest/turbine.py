"""Per-turbine keyed state: anomaly rules, telemetry loss, last-known-good.

Thin glue: every decision is a pure function of udfs/ (anomaly steps); this module only moves
their state in and out of explicitly typed Flink state and routes the outputs.

The rules judge a turbine's readings in event-time order (event time, then sensor id), each once
the watermark has passed it: arrival order differs with parallelism and across restores (the
msg_id dedupe shuffles by msg_id), and stateful rules such as the rolling z-score must not give
different alerts for the same data. The JVM does the waiting (sql/flink/rule_batches.sql): this
operator receives one row per turbine and event-time instant, in event-time order, holding that
instant's readings, so it crosses into Python and touches state once per instant, not per reading.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import fields
from functools import cache
from operator import attrgetter
from typing import Any, NamedTuple

from pyflink.common import Row
from pyflink.datastream import KeyedProcessFunction, ProcessFunction, RuntimeContext, TimeDomain
from pyflink.datastream.state import ValueStateDescriptor

from flink_jobs.common.state_commit import pipeline_commits
from flink_jobs.ingest.registry import RegistryCache, TurbineInfo
from flink_jobs.ingest.sinks import LkgWriter
from flink_jobs.ingest.types import TURBINE_STATE
from udfs.anomaly import (
    Alert, ChannelConfig, ChannelState, LossState, PowerConfig, PowerState, channel_step, loss_on_reading,
    loss_on_timer, power_step,
)
from udfs.channels import watches_frozen
from udfs.identity import alert_id

log = logging.getLogger(__name__)


@cache
def _values_of(record_type: type) -> Callable[[Any], tuple[Any, ...]]:
    """A record's field values in order, read in one C call: dataclasses.fields on every call (a state row per
    channel and instant) made process_element 140 us per instant of 12 readings against 119 (bench.rules_instant)."""
    return attrgetter(*(f.name for f in fields(record_type)))


def _to_row(record: Any) -> Row:
    return Row(*_values_of(type(record))(record))


class _Held(NamedTuple):
    """A turbine's state as the rules use it: channel rows by sensor_id, power and loss records, and
    last-known-good values staged for a flush timer (rows of value and event time by channel). Only versions
    before 2026-12-05 staged values in state; they are kept in the type so that those versions' savepoints
    restore, and sent on by the first instant or timer that reads them."""

    channels: dict[str, Row]
    power: PowerState
    loss: LossState
    staged: dict[str, Row]


def _site(info: TurbineInfo | None) -> str | None:
    return info.site_id if info else None


def _alert_row(a: Alert, site_id: str | None) -> Row:
    return Row(alert_id(a.turbine_id, a.sensor_id, a.rule, a.status, a.event_time), a.turbine_id, site_id, a.sensor_id,
               a.rule, str(a.status), str(a.severity), a.event_time, None if math.isnan(a.value) else a.value,
               a.evidence, int(time.time() * 1000))


class TurbineRules(KeyedProcessFunction):
    """Keyed by turbine_id. Input: rows of ``rule_batches`` (turbine_id, event_time_ms, and the instant's readings
    as three lists in one order: sensor_ids and sensor_types joined by commas, sensor_values an array), one per
    turbine and instant, in event-time order. Output: alert transitions. Effect: last-known-good values in Redis."""

    def __init__(self, *, dsn: str, redis_url: str, redis_prefix: str, loss_after_ms: int,
                 registry_refresh_s: float, channel: ChannelConfig = ChannelConfig(),
                 power: PowerConfig = PowerConfig()) -> None:
        self._dsn, self._redis_url, self._redis_prefix = dsn, redis_url, redis_prefix
        self._loss_after_ms = loss_after_ms
        self._registry_refresh_s = registry_refresh_s
        self._channel_cfg, self._power_cfg = channel, power

    def open(self, ctx: RuntimeContext) -> None:
        # All a turbine holds is one value: at the end of every bundle (each 200 ms, and at each checkpoint
        # barrier) PyFlink writes each changed state back to the JVM with a request it waits for, so four
        # states (channels, power, loss, staged last-known-good) cost four round trips per turbine where one
        # value costs one. A MapState was worse still: a read and a write per channel entry, and a flush that
        # iterated the map. Measured (bench/results/experiments/): mapstate_stream_e2e.json; four states against
        # one, one_state_stream_e2e.json and four_states_stream_latency_bound05.json.
        self._state = ctx.get_state(ValueStateDescriptor("turbine", TURBINE_STATE))
        self._registry = RegistryCache(self._dsn, self._registry_refresh_s)
        self._writer = LkgWriter(self._redis_url, self._redis_prefix)
        # Each bundle's changed turbines are written back in one batch, not one round trip per turbine, and
        # the bundle's last-known-good values go to Redis in one pipeline at the same moment (a turbine once,
        # with its newest value per channel). The pipeline is sent before the bundle, and a checkpoint barrier
        # behind it, completes, so a checkpoint never counts a reading whose value is not in Redis; if Redis
        # fails, the bundle fails and the task replays its readings from the last checkpoint. No timer and no
        # state: until 2026-12-05 the values waited in state for a processing-time timer per turbine and
        # second, a crossing into Python and a state read and write each.
        self._lkg_batched = pipeline_commits(ctx._keyed_state_backend, on_bundle_end=self._writer.flush)
        group = ctx.get_metrics_group()
        self._alerts = group.counter("alerts_emitted")
        self._judged = group.counter("readings_judged")

    def close(self) -> None:
        self._writer.close()

    def _read(self) -> _Held:
        stored = self._state.value()  # cached for the bundle: read only, every change goes into new objects
        if stored is None:  # a turbine not seen before; _write always stores all four parts
            return _Held({}, PowerState(), LossState(), {})
        return _Held(stored[0], PowerState(*stored[1]), LossState(*stored[2]), stored[3])

    def _write(self, held: _Held) -> None:
        self._state.update(Row(held.channels, _to_row(held.power), _to_row(held.loss), held.staged))

    def _publish(self, turbine: str, info: TurbineInfo | None, values: dict[str, tuple[float, int]]) -> None:
        """Last-known-good values (channel -> (value, event time)) for Redis, where the script guards them by event
        time: a replayed or older value never overwrites a newer one."""
        if self._lkg_batched:
            self._writer.stage(turbine, _site(info) or "", values)
        else:  # PyFlink not as expected, no bundle-end hook: one script call per instant
            self._writer.write(turbine, _site(info) or "", values)

    def _send_staged(self, turbine: str, info: TurbineInfo | None, held: _Held) -> _Held:
        """Values an earlier version staged in state (restored from its savepoint) go on; the state keeps none."""
        self._publish(turbine, info, {c: (e[0], e[1]) for c, e in held.staged.items()})
        return held._replace(staged={})

    def process_element(self, batch: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        turbine, event_time = batch[0], batch[1]
        # by sensor id, unique within an instant (the msg_id dedupe): the order the reference model judges in
        readings = sorted(zip(batch[2].split(","), batch[3].split(","), batch[4]))
        info = self._registry.get(turbine)
        held = self._read()
        restored_staged = bool(held.staged)
        if restored_staged:
            held = self._send_staged(turbine, info, held)
        power = held.power
        # telemetry loss looks at instants, not channels: one step for all of this instant's readings
        loss, alerts, timer = loss_on_reading(held.loss, turbine, event_time, self._loss_after_ms)
        good: dict[str, float] = {}  # channel -> its good value at this instant
        channels = dict(held.channels)
        channels_changed = False
        for sensor_id, sensor_type, value in readings:
            stored = channels.get(sensor_id)
            state = ChannelState(*stored) if stored is not None else ChannelState()
            new_state, out = channel_step(state, turbine, sensor_id, event_time, value, self._channel_cfg,
                                          watches_frozen(sensor_type))
            alerts += out
            if new_state is not state:
                channels[sensor_id], channels_changed = _to_row(new_state), True
                if not (new_state.zscore_open or new_state.frozen_open):  # a good value: last-known-good moves on
                    good[sensor_type] = value
            if info is not None:
                power, out = power_step(power, turbine, sensor_type, event_time, value, info.model, self._power_cfg)
                alerts += out
        self._judged.inc(len(readings))
        if channels_changed or power != held.power or loss != held.loss or restored_staged:
            self._write(_Held(channels, power, loss, {}))
        if timer is not None:  # the telemetry-loss deadline
            ctx.timer_service().register_event_time_timer(timer)
        if good:
            self._publish(turbine, info, {c: (v, event_time) for c, v in good.items()})
        site = _site(info)
        for a in alerts:
            self._alerts.inc()
            yield _alert_row(a, site)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        turbine = ctx.get_current_key()
        held = self._read()
        if ctx.time_domain() == TimeDomain.PROCESSING_TIME:
            # the job registers none: only a flush timer of an earlier version, restored from its savepoint
            if held.staged:
                self._write(self._send_staged(turbine, self._registry.get(turbine), held))
            return
        # a telemetry-loss deadline: every instant up to it was judged before the watermark reached it
        new_l, alerts = loss_on_timer(held.loss, turbine, timestamp, self._loss_after_ms)
        if new_l != held.loss:
            self._write(held._replace(loss=new_l))
        for a in alerts:
            self._alerts.inc()
            yield _alert_row(a, _site(self._registry.get(turbine)))


class CountLate(ProcessFunction):
    """Counts the late readings in the ``late_readings`` metric (the rows themselves go to Iceberg from SQL)."""

    def open(self, ctx: RuntimeContext) -> None:
        self._late = ctx.get_metrics_group().counter("late_readings")

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        self._late.inc()
        return iter(())
