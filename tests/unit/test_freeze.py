"""The freeze monitor's judgement: scopes, hysteresis, failing safe."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udfs.freeze import ALL, FreezeState, Observation, Thresholds, assess, progress, site_scope, turbine_scope

pytestmark = pytest.mark.unit

TH = Thresholds(freeze_lag_records=1_000, thaw_lag_records=100, freeze_gap_ms=30_000, thaw_gap_ms=10_000,
                freeze_silence_ms=20_000, thaw_silence_ms=5_000, freeze_site_share=0.5, thaw_site_share=0.25, thaw_checks=2)
SITES = {"T1": "S1", "T2": "S1", "T3": "S2", "T4": "S2"}


def look(now: int, lag: int | None = 0, progress: int | None = None, last: dict[str, int] | None = None) -> Observation:
    progress = now if progress is None else progress
    return Observation(now, lag, progress, last if last is not None else {t: progress for t in SITES}, SITES)


def test_healthy_platform_stays_thawed() -> None:
    state, events = assess(FreezeState(), look(100_000), TH)
    assert not state.active and not events


def test_lag_freezes_everything_and_thaws_only_after_healthy_looks_below_the_thaw_bound() -> None:
    state, events = assess(FreezeState(), look(100_000, lag=5_000), TH)
    assert [(e.kind, e.freeze.scope, e.freeze.reason) for e in events] == [("FROZEN", ALL, "PROCESSING_LAG")]
    state, events = assess(state, look(101_000, lag=500), TH)  # under the freeze bound, over the thaw bound
    state, events = assess(state, look(102_000, lag=500), TH)
    assert ALL in state.active and not events
    state, _ = assess(state, look(103_000, lag=50), TH)
    assert ALL in state.active  # one healthy look is not enough
    state, events = assess(state, look(104_000, lag=50), TH)
    assert [(e.kind, e.freeze.scope) for e in events] == [("THAWED", ALL)] and not state.active


def test_a_stopped_job_is_one_freeze_of_all_not_one_per_turbine() -> None:
    state, events = assess(FreezeState(), look(200_000, progress=100_000), TH)
    assert [(e.freeze.scope, e.freeze.reason) for e in events] == [(ALL, "EVENT_TIME_GAP")]


def test_a_silent_turbine_freezes_its_own_scope_only() -> None:
    last = {"T1": 100_000, "T2": 100_000, "T3": 100_000, "T4": 70_000}
    state, events = assess(FreezeState(), look(100_000, last=last), TH)
    assert [e.freeze.scope for e in events] == [turbine_scope("T4")]
    last["T3"] = 70_000  # half of S2 silent: the site freezes too
    state, events = assess(state, look(101_000, progress=100_000, last=last), TH)
    assert sorted(e.freeze.scope for e in events) == [site_scope("S2"), turbine_scope("T3")]


def test_a_blind_monitor_fails_safe() -> None:
    for obs in (look(100_000, lag=None), Observation(100_000, 0, None)):
        state, events = assess(FreezeState(), obs, TH)
        assert [(e.freeze.scope, e.freeze.reason) for e in events] == [(ALL, "MONITOR_BLIND")]


def test_thresholds_must_nest() -> None:
    with pytest.raises(ValueError):
        Thresholds(freeze_lag_records=10, thaw_lag_records=100)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 3_000)), st.integers(0, 60_000)), min_size=1, max_size=40))
def test_events_alternate_and_the_state_matches_the_last_look(looks: list[tuple[int | None, int]]) -> None:
    """Per scope, FROZEN and THAWED alternate; a look over a freeze bound always leaves the scope frozen."""
    state, now, last_kind = FreezeState(), 1_000_000, {}
    for lag, gap in looks:
        now += 1_000
        state, events = assess(state, look(now, lag=lag, progress=now - gap), TH)
        for e in events:
            assert last_kind.get(e.freeze.scope, "THAWED") != e.kind
            last_kind[e.freeze.scope] = e.kind
        if lag is None or lag >= TH.freeze_lag_records or gap >= TH.freeze_gap_ms:
            assert ALL in state.active


def test_progress_ignores_a_fast_clock_and_never_passes_the_wall_clock() -> None:
    fleet = [100_000 + i for i in range(19)] + [400_000]  # one turbine 5 minutes ahead
    assert progress(fleet, now_ms=200_000) == 100_017
    assert progress([100_000, 400_000], now_ms=200_000) == 200_000
    assert progress([], now_ms=1) is None
    long_gone = [10_000] * 100  # turbines silent for hours do not drag the progress back
    assert progress(long_gone + [1_000_000 + i for i in range(10)], now_ms=2_000_000) == 1_000_008
