import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udfs.anomaly import ChannelConfig, ChannelState, PowerConfig, PowerState, Status, channel_step, power_step
from udfs.power_curve import MODELS, expected_power

pytestmark = pytest.mark.unit

CFG = ChannelConfig(warmup=20, frozen_after_ms=60_000)


def run(values: list[float], step_ms: int = 1000, cfg: ChannelConfig = CFG) -> tuple[ChannelState, list]:  # type: ignore[type-arg]
    state, alerts = ChannelState(), []
    for i, v in enumerate(values):
        state, out = channel_step(state, "T1", "s1", 1_000_000 + i * step_ms, v, cfg)
        alerts += out
    return state, alerts


def test_a_spike_raises_once_and_clears_with_hysteresis() -> None:
    rng = random.Random(1)
    normal = [50 + rng.gauss(0, 1) for _ in range(200)]
    spike = [70.0] * 5  # stays anomalous for five samples: one alert, not five
    _, alerts = run(normal + spike + [50.0] * 5)
    assert [(a.rule, a.status) for a in alerts] == [("zscore", Status.RAISED), ("zscore", Status.CLEARED)]
    assert "z=" in alerts[0].evidence


def test_no_alerts_on_stationary_noise() -> None:
    rng = random.Random(2)
    _, alerts = run([10 + rng.gauss(0, 0.5) for _ in range(2000)])
    assert [a for a in alerts if a.rule == "zscore"] == []


def test_frozen_sensor_raises_after_the_quiet_period_and_clears_on_change() -> None:
    _, alerts = run([1.0, 2.0] + [3.0] * 70 + [3.5])
    frozen = [(a.status, a.event_time) for a in alerts if a.rule == "frozen_sensor"]
    assert frozen == [(Status.RAISED, 1_000_000 + 62_000), (Status.CLEARED, 1_000_000 + 72_000)]


def test_older_readings_never_move_state_back() -> None:
    state, _ = run([1.0, 2.0, 3.0])
    again, alerts = channel_step(state, "T1", "s1", 1_000_000, 99.0, CFG)
    assert again == state and alerts == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=-100, max_value=100, allow_nan=False), min_size=1, max_size=300))
def test_raised_and_cleared_alternate_per_rule(values: list[float]) -> None:
    _, alerts = run(values)
    for rule in ("zscore", "frozen_sensor"):
        statuses = [a.status for a in alerts if a.rule == rule]
        assert all(s == (Status.RAISED if i % 2 == 0 else Status.CLEARED) for i, s in enumerate(statuses))


def test_power_curve_shortfall_needs_a_streak_and_clears_when_back_on_the_curve() -> None:
    model, cfg = MODELS["AN-3.6-130"], PowerConfig(consecutive=3)
    state, alerts, t = PowerState(), [], 0
    for k in range(12):
        t += 1000
        state, _ = power_step(state, "T1", "WMET.HorWdSpd", t, 10.0, model, cfg)
        good = expected_power(10.0, model)
        actual = good * 0.4 if 3 <= k < 8 else good  # iced blades for five samples
        state, out = power_step(state, "T1", "WTUR.W", t + 100, actual, model, cfg)
        alerts += out
    # iced from the 4th sample (t=4,100): the 3rd shortfall in a row raises; the first good sample clears
    assert [(a.status, a.event_time) for a in alerts] == [(Status.RAISED, 6_100), (Status.CLEARED, 9_100)]


def test_power_is_not_judged_at_low_wind_or_without_a_recent_wind_reading() -> None:
    model, cfg = MODELS["AN-3.6-130"], PowerConfig(consecutive=1)
    state, _ = power_step(PowerState(), "T1", "WMET.HorWdSpd", 1000, 3.0, model, cfg)
    state, out = power_step(state, "T1", "WTUR.W", 1100, 0.0, model, cfg)
    assert out == []
    state, _ = power_step(state, "T1", "WMET.HorWdSpd", 2000, 12.0, model, cfg)
    _, out = power_step(state, "T1", "WTUR.W", 60_000, 0.0, model, cfg)
    assert out == []


def test_channels_that_hold_steady_in_normal_operation_are_not_called_frozen() -> None:
    from udfs.channels import watches_frozen

    assert not watches_frozen("WTUR.TurSt") and not watches_frozen("WROT.BlPthAngVal")
    assert watches_frozen("WTRM.TrmTmpGbxOil") and not watches_frozen("NOT.A.CHANNEL")
    state, alerts = ChannelState(), []
    for i in range(200):  # fine pitch for 200 s, well past frozen_after_ms
        state, out = channel_step(state, "T1", "WROT.BlPthAngVal.1", i * 1000, 0.0, CFG, watch_frozen=False)
        alerts += out
    assert alerts == [] and not state.frozen_open
