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
from collections.abc import Iterator
from dataclasses import fields
from typing import Any, TypeVar

from pyflink.common import Row
from pyflink.datastream import KeyedProcessFunction, ProcessFunction, RuntimeContext, TimeDomain
from pyflink.datastream.state import ValueStateDescriptor

from flink_jobs.ingest.registry import RegistryCache, TurbineInfo
from flink_jobs.ingest.sinks import LkgWriter
from flink_jobs.ingest.types import CHANNEL_STATE, LKG_ENTRY, LOSS_STATE, POWER_STATE, Types
from udfs.anomaly import (
    Alert, ChannelConfig, ChannelState, LossState, PowerConfig, PowerState, channel_step, loss_on_reading,
    loss_on_timer, power_step,
)
from udfs.channels import watches_frozen
from udfs.identity import alert_id

log = logging.getLogger(__name__)

T = TypeVar("T")


def _to_row(record: Any) -> Row:
    return Row(*(getattr(record, f.name) for f in fields(record)))


def _load(state: Any, record: type[T]) -> T:
    """The frozen udfs record held in a ValueState (its defaults when the key has none yet)."""
    stored = state.value()
    return record(*stored) if stored is not None else record()


def _site(info: TurbineInfo | None) -> str | None:
    return info.site_id if info else None


def _alert_row(a: Alert, site_id: str | None) -> Row:
    return Row(alert_id(a.turbine_id, a.sensor_id, a.rule, a.status, a.event_time), a.turbine_id, site_id, a.sensor_id,
               a.rule, str(a.status), str(a.severity), a.event_time, None if math.isnan(a.value) else a.value,
               a.evidence, int(time.time() * 1000))


class TurbineRules(KeyedProcessFunction):
    """Keyed by turbine_id. Input: rows of ``rule_batches`` (turbine_id, event_time_ms, readings as
    (sensor_id, sensor_type, value)), one per turbine and instant, in event-time order. Output: alert
    transitions. Effect: last-known-good values in Redis."""

    def __init__(self, *, dsn: str, redis_url: str, redis_prefix: str, loss_after_ms: int,
                 registry_refresh_s: float, lkg_flush_ms: int, channel: ChannelConfig = ChannelConfig(),
                 power: PowerConfig = PowerConfig()) -> None:
        self._dsn, self._redis_url, self._redis_prefix = dsn, redis_url, redis_prefix
        self._loss_after_ms = loss_after_ms
        self._registry_refresh_s, self._lkg_flush_ms = registry_refresh_s, lkg_flush_ms
        self._channel_cfg, self._power_cfg = channel, power

    def open(self, ctx: RuntimeContext) -> None:
        # A turbine's channels, and its staged last-known-good, are one value each, not a MapState: one
        # cached read and one write per turbine and bundle, where a MapState read and wrote each channel's
        # entry, and the flush iterated and cleared a map (an iteration goes to the JVM unless the whole
        # map happens to be cached). Measured: bench/results/experiments/mapstate_stream_e2e.json.
        self._channels = ctx.get_state(ValueStateDescriptor("channel_states", Types.MAP(Types.STRING(), CHANNEL_STATE)))
        self._power = ctx.get_state(ValueStateDescriptor("power", POWER_STATE))
        self._loss = ctx.get_state(ValueStateDescriptor("loss", LOSS_STATE))
        self._lkg = ctx.get_state(ValueStateDescriptor("lkg_staged", Types.MAP(Types.STRING(), LKG_ENTRY)))
        self._registry = RegistryCache(self._dsn, self._registry_refresh_s)
        self._writer = LkgWriter(self._redis_url, self._redis_prefix)
        group = ctx.get_metrics_group()
        self._alerts = group.counter("alerts_emitted")
        self._judged = group.counter("readings_judged")

    def close(self) -> None:
        self._writer.close()

    def process_element(self, batch: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        turbine, event_time, readings = batch[0], batch[1], batch[2]
        info = self._registry.get(turbine)
        power = power_before = _load(self._power, PowerState)
        loss = loss_before = _load(self._loss, LossState)
        # telemetry loss looks at instants, not channels: one step for all of this instant's readings
        loss, alerts, timer = loss_on_reading(loss, turbine, event_time, self._loss_after_ms)
        good: dict[str, float] = {}  # channel -> its good value at this instant
        channels = dict(self._channels.value() or {})  # a copy: the state's own value is cached for the bundle
        channels_changed = False
        for sensor_id, sensor_type, value in sorted(readings, key=lambda r: r[0]):
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
        if channels_changed:
            self._channels.update(channels)
        if power != power_before:
            self._power.update(_to_row(power))
        if loss != loss_before:
            self._loss.update(_to_row(loss))
        if timer is not None:  # the telemetry-loss deadline
            ctx.timer_service().register_event_time_timer(timer)
        if good:
            self._stage_lkg(good, event_time, ctx)
        site = _site(info)
        for a in alerts:
            self._alerts.inc()
            yield _alert_row(a, site)

    def _stage_lkg(self, good: dict[str, float], event_time: int, ctx: KeyedProcessFunction.Context) -> None:
        staged = self._lkg.value() or {}  # read only: the update below is a new map
        newer = {c: Row(v, event_time) for c, v in good.items()
                 if c not in staged or event_time > staged[c][1]}  # state rows come back positional
        if newer:
            self._lkg.update({**staged, **newer})
        # the next flush boundary: instants of one turbine within a period share that one timer
        # (Flink keeps one per key and time), and no state says whether it exists, so a timer
        # that did not come back from a restore is simply asked for again by the next instant
        now = ctx.timer_service().current_processing_time()
        ctx.timer_service().register_processing_time_timer((now // self._lkg_flush_ms + 1) * self._lkg_flush_ms)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        turbine = ctx.get_current_key()
        if ctx.time_domain() == TimeDomain.PROCESSING_TIME:
            staged = {channel: (e[0], e[1]) for channel, e in (self._lkg.value() or {}).items()}
            if staged:
                info = self._registry.get(turbine)
                # event-time guarded in Redis itself: a replayed or older value never overwrites a newer one
                self._writer.write(turbine, _site(info) or "", staged)
                self._lkg.clear()
            return
        # a telemetry-loss deadline: every instant up to it was judged before the watermark reached it
        loss = _load(self._loss, LossState)
        new_l, alerts = loss_on_timer(loss, turbine, timestamp, self._loss_after_ms)
        if new_l != loss:
            self._loss.update(_to_row(new_l))
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
