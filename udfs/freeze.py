"""The safety freeze: what the platform can see, judged with hysteresis, as ``(state, observation) -> (state, events)``.

Three kinds of scope: ``all`` (the pipeline is behind or the monitor is blind), ``site:<id>``
(a share of a site's turbines is silent) and ``turbine:<id>`` (one turbine is silent). A scope
freezes on the first bad observation and thaws only after ``thaw_checks`` healthy ones in a
row, where healthy is a stricter bound than the one that froze it: a value hovering at the
threshold never flaps.

A turbine's silence is measured against the job's own event-time progress (the newest event
time it has published), not the wall clock: when the whole pipeline stops, that is one freeze
of ``all``, not a thousand turbine freezes; when one turbine stops, only its scope freezes.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace

ALL = "all"

# reasons
PROCESSING_LAG = "PROCESSING_LAG"
EVENT_TIME_GAP = "EVENT_TIME_GAP"
MONITOR_BLIND = "MONITOR_BLIND"
TELEMETRY_LOSS = "TELEMETRY_LOSS"
SITE_TELEMETRY_LOSS = "SITE_TELEMETRY_LOSS"


def turbine_scope(turbine_id: str) -> str:
    return f"turbine:{turbine_id}"


def site_scope(site_id: str) -> str:
    return f"site:{site_id}"


def scopes_covering(turbine_id: str, site_id: str | None) -> tuple[str, ...]:
    """Every scope whose freeze covers this turbine."""
    return (ALL, site_scope(site_id), turbine_scope(turbine_id)) if site_id else (ALL, turbine_scope(turbine_id))


def progress(last_ms: Collection[int], now_ms: int, quantile: float = 0.9, horizon_ms: int = 900_000) -> int | None:
    """The job's event-time progress from its turbines' newest event times.

    Each is capped at the wall clock (the bridge accepts clocks up to its max skew ahead, and one
    fast turbine must not make every other look silent); turbines more than ``horizon_ms`` behind
    the newest are left out (decommissioned or long silent: they have their own freezes); of the
    rest, the 90th percentile.
    """
    if not last_ms:
        return None
    capped = [min(t, now_ms) for t in last_ms]
    top = max(capped)
    recent = sorted(t for t in capped if t >= top - horizon_ms)
    return recent[max(0, math.ceil(quantile * len(recent)) - 1)]


@dataclass(frozen=True)
class Thresholds:
    """Freeze above the first bound of each pair, count as healthy below the second.

    The lag bounds must stay above what checkpointing alone leaves uncommitted (the Kafka source
    commits on checkpoints: rate x interval, 120,000 records for 1,000 turbines at 12 channels/s
    and 10 s checkpoints); the event-time gap is the signal that does not depend on the rate.
    """

    freeze_lag_records: int = 300_000
    thaw_lag_records: int = 150_000
    freeze_gap_ms: int = 45_000
    thaw_gap_ms: int = 20_000
    freeze_silence_ms: int = 60_000
    thaw_silence_ms: int = 15_000
    freeze_site_share: float = 0.5  # a site freezes when more than this share of its turbines is silent
    thaw_site_share: float = 0.25
    thaw_checks: int = 3

    def __post_init__(self) -> None:
        pairs = ((self.thaw_lag_records, self.freeze_lag_records), (self.thaw_gap_ms, self.freeze_gap_ms),
                 (self.thaw_silence_ms, self.freeze_silence_ms), (self.thaw_site_share, self.freeze_site_share))
        if any(thaw > freeze for thaw, freeze in pairs) or self.thaw_checks < 1:
            raise ValueError("each thaw bound must be at or below its freeze bound, and thaw_checks at least 1")


@dataclass(frozen=True)
class Observation:
    """One look at the platform. ``None`` means the monitor could not read it."""

    now_ms: int
    lag_records: int | None
    progress_ms: int | None  # newest event time the job has published (Redis last-known-good)
    turbine_last_ms: Mapping[str, int] = field(default_factory=dict)  # turbines that have reported
    turbine_site: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Freeze:
    scope: str
    reason: str
    since_ms: int
    detail: str


@dataclass(frozen=True)
class FreezeEvent:
    kind: str  # FROZEN or THAWED
    freeze: Freeze
    at_ms: int


@dataclass(frozen=True)
class FreezeState:
    active: Mapping[str, Freeze] = field(default_factory=dict)
    healthy_streak: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Verdict:
    bad: tuple[str, str] | None  # (reason, detail) when over a freeze bound
    healthy: bool  # under every thaw bound


def _pipeline(obs: Observation, th: Thresholds) -> _Verdict:
    if obs.lag_records is None or obs.progress_ms is None:
        missing = [n for n, v in (("consumer lag", obs.lag_records), ("event-time progress", obs.progress_ms)) if v is None]
        return _Verdict((MONITOR_BLIND, f"cannot read {' and '.join(missing)}: failing safe"), False)
    gap = obs.now_ms - obs.progress_ms
    if obs.lag_records >= th.freeze_lag_records:
        return _Verdict((PROCESSING_LAG, f"{obs.lag_records} records behind on telemetry.raw (freeze at {th.freeze_lag_records})"), False)
    if gap >= th.freeze_gap_ms:
        return _Verdict((EVENT_TIME_GAP, f"event time {gap / 1000:.1f}s behind the wall clock (freeze at {th.freeze_gap_ms / 1000:.0f}s)"), False)
    return _Verdict(None, obs.lag_records <= th.thaw_lag_records and gap <= th.thaw_gap_ms)


def _turbines(obs: Observation, th: Thresholds) -> dict[str, _Verdict]:
    if obs.progress_ms is None:
        return {}
    out = {}
    for turbine, last in obs.turbine_last_ms.items():
        silence = obs.progress_ms - last
        bad = (TELEMETRY_LOSS, f"silent for {silence / 1000:.1f}s of event time (freeze at {th.freeze_silence_ms / 1000:.0f}s)")
        out[turbine_scope(turbine)] = _Verdict(bad if silence >= th.freeze_silence_ms else None, silence <= th.thaw_silence_ms)
    return out


def _sites(obs: Observation, th: Thresholds, turbines: Mapping[str, _Verdict]) -> dict[str, _Verdict]:
    members: dict[str, list[bool]] = {}
    for turbine in obs.turbine_last_ms:
        site = obs.turbine_site.get(turbine)
        if site is not None and turbine_scope(turbine) in turbines:
            members.setdefault(site, []).append(turbines[turbine_scope(turbine)].bad is not None)
    out = {}
    for site, silent in members.items():
        share = sum(silent) / len(silent)
        bad = (SITE_TELEMETRY_LOSS, f"{sum(silent)} of {len(silent)} turbines silent (freeze above {th.freeze_site_share:.0%})")
        out[site_scope(site)] = _Verdict(bad if share > th.freeze_site_share else None, share <= th.thaw_site_share)
    return out


def assess(state: FreezeState, obs: Observation, th: Thresholds) -> tuple[FreezeState, list[FreezeEvent]]:
    """Freeze every scope over its bound; thaw a frozen scope after ``thaw_checks`` healthy looks in a row."""
    turbines = _turbines(obs, th)
    verdicts = {ALL: _pipeline(obs, th), **turbines, **_sites(obs, th, turbines)}
    active, streak = dict(state.active), dict(state.healthy_streak)
    events: list[FreezeEvent] = []
    for scope, verdict in verdicts.items():
        if verdict.bad is not None:
            streak.pop(scope, None)
            if scope not in active:
                active[scope] = Freeze(scope, verdict.bad[0], obs.now_ms, verdict.bad[1])
                events.append(FreezeEvent("FROZEN", active[scope], obs.now_ms))
    for scope in sorted(set(active) - {s for s, v in verdicts.items() if v.bad is not None}):
        verdict = verdicts.get(scope)
        # a scope that is no longer observed (a turbine gone from the registry) counts as
        # healthy only while the pipeline as a whole is seen: blind is never healthy
        healthy = verdict.healthy if verdict is not None else verdicts[ALL].bad is None
        streak[scope] = streak.get(scope, 0) + 1 if healthy else 0
        if streak[scope] >= th.thaw_checks:
            events.append(FreezeEvent("THAWED", active.pop(scope), obs.now_ms))
            streak.pop(scope)
    return replace(state, active=active, healthy_streak=streak), events
