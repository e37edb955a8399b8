import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from udfs.anomaly import LossState, Status, loss_on_reading, loss_on_timer, loss_timer
from udfs.identity import alert_id
from udfs.lateness import is_late, window_end, window_start

pytestmark = pytest.mark.unit

LOSS = 60_000


def test_window_bounds_are_aligned_to_the_epoch() -> None:
    assert (window_start(125_000, 60_000), window_end(125_000, 60_000)) == (120_000, 180_000)
    assert window_start(120_000, 60_000) == 120_000  # the start belongs to its own window


def test_late_exactly_when_the_window_has_fired() -> None:
    # Flink fires [120 s, 180 s) when the watermark reaches 179,999 ms
    assert not is_late(125_000, 179_998)
    assert is_late(125_000, 179_999)
    assert not is_late(125_000, -(2**63))  # no watermark yet: nothing is late


@given(st.integers(0, 10**13), st.integers(0, 10**13))
def test_on_time_for_a_minute_means_on_time_for_ten_minutes_and_an_hour(t: int, wm: int) -> None:
    if not is_late(t, wm, 60_000):
        assert not is_late(t, wm, 600_000) and not is_late(t, wm, 3_600_000)


def test_each_reading_asks_for_its_deadline_rounded_up_to_the_second() -> None:
    state, alerts, timer = loss_on_reading(LossState(), "T1", 1_500, LOSS)
    assert (alerts, timer) == ([], 62_000)
    assert loss_timer(2_000, LOSS) == 62_000 and loss_timer(2_001, LOSS) == 63_000


def test_loss_raised_once_after_the_silence_whatever_timers_fire() -> None:
    state = LossState()
    for t in range(1_000, 30_000, 1_000):
        state, _, _ = loss_on_reading(state, "T1", t, LOSS)
    state, alerts = loss_on_timer(state, "T1", 61_000, LOSS)  # an old reading's timer: the turbine spoke since
    assert alerts == [] and not state.open
    state, alerts = loss_on_timer(state, "T1", 89_000, LOSS)
    assert [(a.rule, a.status, a.event_time) for a in alerts] == [("telemetry_loss", Status.RAISED, 89_000)]
    assert math.isnan(alerts[0].value) and state.open
    # a duplicate or later timer (a restore can bring both) raises nothing more
    assert loss_on_timer(state, "T1", 89_000, LOSS) == (state, [])
    assert loss_on_timer(state, "T1", 95_000, LOSS) == (state, [])


def test_loss_clears_when_the_turbine_sends_again() -> None:
    state = LossState(last_event_time=10_000, open=True)
    state, alerts, timer = loss_on_reading(state, "T1", 500_000, LOSS)
    assert [(a.status, a.event_time) for a in alerts] == [(Status.CLEARED, 500_000)]
    assert timer == 560_000 and not state.open


def test_older_readings_change_nothing_and_no_reading_no_alert() -> None:
    state = LossState(last_event_time=10_000)
    assert loss_on_reading(state, "T1", 9_000, LOSS) == (state, [], None)
    assert loss_on_timer(LossState(), "T1", 10**9, LOSS) == (LossState(), [])


def test_alert_id_is_stable_and_distinguishes_transitions() -> None:
    a = alert_id("T1", "s", "zscore", "RAISED", 1)
    assert a == alert_id("T1", "s", "zscore", "RAISED", 1) and len(a) == 32
    assert len({a, alert_id("T1", "s", "zscore", "CLEARED", 1), alert_id("T1", "s", "zscore", "RAISED", 2),
                alert_id("T2", "s", "zscore", "RAISED", 1)}) == 4
