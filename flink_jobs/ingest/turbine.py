"""Per-turbine keyed state: enrichment, lateness, anomaly rules, telemetry loss, last-known-good.

Thin glue: every decision is a pure function of udfs/ (anomaly steps, lateness); this module
only moves their state in and out of explicitly typed Flink state and routes the outputs.

The rules judge a turbine's readings in event-time order (event time, then sensor id), each once
the watermark has passed it: arrival order differs with parallelism and across restores (the
msg_id dedupe shuffles by msg_id), and stateful rules such as the rolling z-score must not give
different alerts for the same data.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import fields
from typing import Any, TypeVar

from pyflink.common import Row
from pyflink.datastream import KeyedProcessFunction, OutputTag, RuntimeContext, TimeDomain
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from flink_jobs.ingest.registry import RegistryCache, TurbineInfo
from flink_jobs.ingest.sinks import LkgWriter
from flink_jobs.ingest.types import (
    ALERT_ROW, CHANNEL_STATE, ENRICHED_ROW, LKG_ENTRY, LOSS_STATE, PENDING_READING, POWER_STATE, Types,
)
from udfs.anomaly import (
    Alert, ChannelConfig, ChannelState, LossState, PowerConfig, PowerState, channel_step, loss_on_reading,
    loss_on_timer, loss_timer, power_step,
)
from udfs.channels import watches_frozen
from udfs.identity import alert_id
from udfs.lateness import is_late

log = logging.getLogger(__name__)

T = TypeVar("T")

LATE = OutputTag("late", ENRICHED_ROW)
ALERTS = OutputTag("alerts", ALERT_ROW)


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


class TurbineProcessor(KeyedProcessFunction):
    """Keyed by turbine_id, after the msg_id dedupe. Main output: on-time, enriched readings (the windows' input).
    Side outputs: ``late`` (their 1-minute window already fired) and ``alerts``."""

    def __init__(self, *, dsn: str, redis_url: str, redis_prefix: str, loss_after_ms: int,
                 registry_refresh_s: float, lkg_flush_ms: int, channel: ChannelConfig = ChannelConfig(),
                 power: PowerConfig = PowerConfig()) -> None:
        self._dsn, self._redis_url, self._redis_prefix = dsn, redis_url, redis_prefix
        self._loss_after_ms = loss_after_ms
        self._registry_refresh_s, self._lkg_flush_ms = registry_refresh_s, lkg_flush_ms
        self._channel_cfg, self._power_cfg = channel, power

    def open(self, ctx: RuntimeContext) -> None:
        self._channels = ctx.get_map_state(MapStateDescriptor("channels", Types.STRING(), CHANNEL_STATE))
        self._power = ctx.get_state(ValueStateDescriptor("power", POWER_STATE))
        self._loss = ctx.get_state(ValueStateDescriptor("loss", LOSS_STATE))
        self._lkg = ctx.get_map_state(MapStateDescriptor("lkg_pending", Types.STRING(), LKG_ENTRY))
        # "<event time, 13 digits>|<sensor id>" -> the reading: sorted keys are the rules' order
        self._pending = ctx.get_map_state(MapStateDescriptor("rules_pending", Types.STRING(), PENDING_READING))
        self._registry = RegistryCache(self._dsn, self._registry_refresh_s)
        self._writer = LkgWriter(self._redis_url, self._redis_prefix)
        group = ctx.get_metrics_group()
        self._late = group.counter("late_readings")
        self._alerts = group.counter("alerts_emitted")
        self._behind = group.counter("readings_behind_watermark")

    def close(self) -> None:
        self._writer.close()

    def process_element(self, r: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        info = self._registry.get(r.turbine_id)
        watermark = ctx.timer_service().current_watermark()
        enrichment = (info.site_id, info.region, info.model.model, info.rated_kw, info.protected) if info else (None,) * 5
        row = Row(*r, *enrichment, watermark)
        if is_late(r.event_time_ms, watermark):
            self._late.inc()
            yield LATE, row  # kept, counted, never dropped; not judged by the rules (state never goes back)
            return
        yield row
        if r.event_time_ms <= watermark:
            # its moment has passed for the rules (timers up to the watermark have fired): judging it
            # now would depend on arrival timing; the windows and the raw table still have it
            self._behind.inc()
            return
        self._pending.put(f"{r.event_time_ms:013d}|{r.sensor_id}", Row(r.sensor_id, r.sensor_type, r.event_time_ms, r.value))
        timers = ctx.timer_service()
        timers.register_event_time_timer(r.event_time_ms)
        # and the telemetry-loss deadline, asked for by every reading (see on_timer)
        timers.register_event_time_timer(loss_timer(r.event_time_ms, self._loss_after_ms))

    def _judge_due(self, turbine: str, until: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        """Run the rules over every pending reading up to ``until``, in event-time order."""
        due = sorted(k for k in self._pending.keys() if int(k[:13]) <= until)
        if not due:
            return
        info = self._registry.get(turbine)
        for key in due:
            p = self._pending.get(key)
            yield from self._rules(turbine, p[0], p[1], p[2], p[3], info, ctx)
            self._pending.remove(key)

    def _rules(self, turbine: str, sensor_id: str, sensor_type: str, event_time: int, value: float,
               info: TurbineInfo | None, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        alerts: list[Alert] = []
        stored = self._channels.get(sensor_id)
        state = ChannelState(*stored) if stored is not None else ChannelState()
        new_state, out = channel_step(state, turbine, sensor_id, event_time, value, self._channel_cfg,
                                      watches_frozen(sensor_type))
        alerts += out
        if new_state is not state:
            self._channels.put(sensor_id, _to_row(new_state))
            if not (new_state.zscore_open or new_state.frozen_open):  # a good value: last-known-good moves on
                self._stage_lkg(sensor_type, value, event_time, ctx)
        if info is not None:
            p_state = _load(self._power, PowerState)
            new_p, out = power_step(p_state, turbine, sensor_type, event_time, value, info.model, self._power_cfg)
            alerts += out
            if new_p != p_state:
                self._power.update(_to_row(new_p))
        loss = _load(self._loss, LossState)
        new_l, out, timer = loss_on_reading(loss, turbine, event_time, self._loss_after_ms)
        alerts += out
        if new_l != loss:
            self._loss.update(_to_row(new_l))
        if timer is not None:
            ctx.timer_service().register_event_time_timer(timer)
        for a in alerts:
            self._alerts.inc()
            yield ALERTS, _alert_row(a, _site(info))

    def _stage_lkg(self, channel: str, value: float, event_time: int, ctx: KeyedProcessFunction.OnTimerContext) -> None:
        current = self._lkg.get(channel)
        if current is None or event_time > current[1]:  # state rows come back positional
            self._lkg.put(channel, Row(value, event_time))
        # the next flush boundary: readings of one turbine within a period share that one timer
        # (Flink keeps one per key and time), and no state says whether it exists, so a timer
        # that did not come back from a restore is simply asked for again by the next reading
        now = ctx.timer_service().current_processing_time()
        ctx.timer_service().register_processing_time_timer((now // self._lkg_flush_ms + 1) * self._lkg_flush_ms)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        turbine = ctx.get_current_key()
        if ctx.time_domain() == TimeDomain.PROCESSING_TIME:
            staged = {channel: (e[0], e[1]) for channel, e in self._lkg.items()}
            if staged:
                info = self._registry.get(turbine)
                # event-time guarded in Redis itself: a replayed or older value never overwrites a newer one
                self._writer.write(turbine, _site(info) or "", staged)
                self._lkg.clear()
            return
        # the readings the watermark has now passed first: a reading at or before this instant
        # counts before the silence it would break is judged
        yield from self._judge_due(turbine, timestamp, ctx)
        loss = _load(self._loss, LossState)
        new_l, alerts = loss_on_timer(loss, turbine, timestamp, self._loss_after_ms)
        if new_l != loss:
            self._loss.update(_to_row(new_l))
        for a in alerts:
            self._alerts.inc()
            yield ALERTS, _alert_row(a, _site(self._registry.get(turbine)))
