"""Per-turbine anomaly rules as pure steps: (state, reading) -> (new_state, alerts).

Each rule has a raise threshold and a lower clear threshold (hysteresis), so a value that
hovers around a limit raises one alert and one clear, not a flood. State is a flat frozen
record of primitives so the Flink job can keep it in explicitly typed keyed state.
Readings must arrive in event-time order per key; an older reading leaves state as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from udfs.power_curve import TurbineModel, expected_power


class Status(StrEnum):
    RAISED = "RAISED"
    CLEARED = "CLEARED"


class Severity(StrEnum):
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True, slots=True)
class Alert:
    turbine_id: str
    sensor_id: str
    rule: str
    status: Status
    severity: Severity
    event_time: int
    value: float
    evidence: str  # human-readable: the numbers that triggered or cleared it


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    zscore_raise: float = 4.0
    zscore_clear: float = 2.0
    warmup: int = 30  # samples before z-scores count
    ewm_alpha: float = 0.02  # weight of the newest sample in the rolling mean and variance
    frozen_after_ms: int = 10 * 60 * 1000  # exactly the same value this long: a frozen sensor


@dataclass(frozen=True, slots=True)
class ChannelState:
    """Rolling statistics and open alerts of one (turbine, sensor)."""

    n: int = 0
    mean: float = 0.0
    var: float = 0.0
    last_value: float = math.nan
    unchanged_since: int = 0
    last_event_time: int = -1
    zscore_open: bool = False
    frozen_open: bool = False


def channel_step(
    state: ChannelState, turbine_id: str, sensor_id: str, event_time: int, value: float, cfg: ChannelConfig,
    watch_frozen: bool = True,
) -> tuple[ChannelState, list[Alert]]:
    """Z-score against the rolling (exponentially weighted) statistics, and frozen-sensor detection
    (``watch_frozen``: off for channels that hold one value in normal operation, see udfs.channels)."""
    if event_time <= state.last_event_time:
        return state, []  # replayed or out of order: never move state backwards
    alerts: list[Alert] = []

    def alert(rule: str, status: Status, severity: Severity, evidence: str) -> None:
        alerts.append(Alert(turbine_id, sensor_id, rule, status, severity, event_time, value, evidence))

    std = math.sqrt(state.var)
    z = (value - state.mean) / std if state.n >= cfg.warmup and std > 1e-12 else 0.0
    zscore_open = state.zscore_open
    if not zscore_open and abs(z) >= cfg.zscore_raise:
        zscore_open = True
        alert("zscore", Status.RAISED, Severity.WARNING, f"z={z:.2f} mean={state.mean:.4g} std={std:.4g}")
    elif zscore_open and abs(z) <= cfg.zscore_clear:
        zscore_open = False
        alert("zscore", Status.CLEARED, Severity.WARNING, f"z={z:.2f}")

    unchanged_since = state.unchanged_since if value == state.last_value else event_time
    frozen_open = state.frozen_open
    frozen_for = event_time - unchanged_since
    if watch_frozen and not frozen_open and frozen_for >= cfg.frozen_after_ms:
        frozen_open = True
        alert("frozen_sensor", Status.RAISED, Severity.WARNING, f"value {value} unchanged for {frozen_for // 1000} s")
    elif frozen_open and value != state.last_value:
        frozen_open = False
        alert("frozen_sensor", Status.CLEARED, Severity.WARNING, f"value changed to {value}")

    # anomalous samples do not drag the baseline they are judged against
    if zscore_open and state.n >= cfg.warmup:
        mean, var = state.mean, state.var
    elif state.n == 0:
        mean, var = value, 0.0
    else:
        delta = value - state.mean
        mean = state.mean + cfg.ewm_alpha * delta
        var = (1 - cfg.ewm_alpha) * (state.var + cfg.ewm_alpha * delta * delta)
    return ChannelState(state.n + 1, mean, var, value, unchanged_since, event_time, zscore_open, frozen_open), alerts


@dataclass(frozen=True, slots=True)
class PowerConfig:
    raise_below: float = 0.25  # shortfall against the curve, as a share of rated power
    clear_below: float = 0.10
    consecutive: int = 5  # shortfalls in a row before raising
    min_wind_ms: float = 4.0  # below this the curve is too flat to judge


@dataclass(frozen=True, slots=True)
class PowerState:
    wind_ms: float = math.nan
    wind_time: int = -1
    air_density: float = 1.225
    streak: int = 0
    open: bool = False
    last_event_time: int = -1


def power_step(
    state: PowerState, turbine_id: str, sensor_type: str, event_time: int, value: float, model: TurbineModel,
    cfg: PowerConfig, max_pair_gap_ms: int = 5_000,
) -> tuple[PowerState, list[Alert]]:
    """Power-curve deviation: active power against the model's curve at the latest wind speed."""
    if sensor_type == "WMET.HorWdSpd":
        return (replace(state, wind_ms=value, wind_time=event_time) if event_time > state.wind_time else state), []
    if sensor_type == "WMET.EnvTmp":
        return replace(state, air_density=101_325 / (287.05 * (value + 273.15))), []
    if sensor_type != "WTUR.W" or event_time <= state.last_event_time:
        return state, []
    paired = abs(event_time - state.wind_time) <= max_pair_gap_ms and state.wind_ms >= cfg.min_wind_ms
    if not paired:
        return replace(state, last_event_time=event_time), []
    expected = expected_power(state.wind_ms, model, state.air_density)
    shortfall = (expected - value) / model.rated_kw
    streak = state.streak + 1 if shortfall >= cfg.raise_below else 0
    alerts: list[Alert] = []
    is_open = state.open
    evidence = f"wind={state.wind_ms:.2f} m/s expected={expected:.0f} kW actual={value:.0f} kW shortfall={shortfall:.0%} of rated"
    if not is_open and streak >= cfg.consecutive:
        is_open = True
        alerts.append(Alert(turbine_id, "WTUR.W", "power_curve", Status.RAISED, Severity.WARNING, event_time, value, evidence))
    elif is_open and shortfall <= cfg.clear_below:
        is_open = False
        alerts.append(Alert(turbine_id, "WTUR.W", "power_curve", Status.CLEARED, Severity.WARNING, event_time, value, evidence))
    return replace(state, streak=streak, open=is_open, last_event_time=event_time), alerts


@dataclass(frozen=True, slots=True)
class LossState:
    """Telemetry-loss watch of one turbine: the newest event time seen, and whether loss is raised."""

    last_event_time: int = -1
    open: bool = False


def loss_timer(event_time: int, loss_after_ms: int) -> int:
    """When to look again after a reading: its deadline, rounded up to the second so that a
    turbine's readings within one second share one timer (Flink keeps one per key and time)."""
    return -(-(event_time + loss_after_ms) // 1000) * 1000


def loss_on_reading(
    state: LossState, turbine_id: str, event_time: int, loss_after_ms: int
) -> tuple[LossState, list[Alert], int | None]:
    """A reading arrived: (new state, a CLEARED alert if loss was open, the timer to register or None).

    Every new reading asks for its own (rounded) timer, and a timer decides from state alone, so
    nothing depends on which timers survived a restore or fired twice.
    """
    if event_time <= state.last_event_time:
        return state, [], None
    alerts = []
    if state.open:
        alerts.append(Alert(turbine_id, "", "telemetry_loss", Status.CLEARED, Severity.CRITICAL, event_time, math.nan,
                            f"telemetry resumed after {(event_time - state.last_event_time) // 1000} s"))
    return LossState(event_time, False), alerts, loss_timer(event_time, loss_after_ms)


def loss_on_timer(state: LossState, turbine_id: str, timer_ts: int, loss_after_ms: int) -> tuple[LossState, list[Alert]]:
    """A timer fired at event time ``timer_ts``: raise loss once the turbine has been silent long enough."""
    due = state.last_event_time + loss_after_ms
    if state.open or state.last_event_time < 0 or timer_ts < due:
        return state, []  # a newer reading moved the deadline on (its own timer will look), or already raised
    alert = Alert(turbine_id, "", "telemetry_loss", Status.RAISED, Severity.CRITICAL, due, math.nan,
                  f"no reading for {loss_after_ms // 1000} s after {state.last_event_time}")
    return LossState(state.last_event_time, True), [alert]
