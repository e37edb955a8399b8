import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udfs.windows import EmptyWindowError, percentile, percentiles, percentiles_of_parts, window_stats

pytestmark = pytest.mark.unit

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(finite, min_size=1, max_size=700), st.integers(min_value=1, max_value=1000))
def test_window_stats_match_a_direct_computation(values: list[float], expected: int) -> None:
    got = window_stats(values, expected)
    arr = np.array(values, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(arr))))
    assert got.count == len(values)
    assert got.min == arr.min() and got.max == arr.max()
    assert math.isclose(got.avg, float(arr.mean()), rel_tol=1e-9, abs_tol=1e-9 * scale)
    assert math.isclose(got.stddev, float(arr.std(ddof=0)), rel_tol=1e-6, abs_tol=1e-6 * scale)
    for q, field in ((50, got.p50), (95, got.p95), (99, got.p99)):
        assert math.isclose(field, float(np.percentile(arr, q)), rel_tol=1e-9, abs_tol=1e-9 * scale)
    assert got.coverage == len(values) / expected
    assert got.min <= got.p50 <= got.p95 <= got.p99 <= got.max


@given(st.lists(finite, min_size=1, max_size=50))
def test_order_of_arrival_does_not_change_the_statistics(values: list[float]) -> None:
    a, b = window_stats(values, 10), window_stats(list(reversed(values)), 10)
    assert (a.min, a.max, a.p50, a.p95, a.p99, a.count) == (b.min, b.max, b.p50, b.p95, b.p99, b.count)
    assert math.isclose(a.avg, b.avg, rel_tol=1e-9, abs_tol=1e-6)


def test_constant_window_has_zero_spread() -> None:
    s = window_stats([7.25] * 600, 600)
    assert (s.avg, s.stddev, s.p50, s.p99, s.coverage) == (7.25, 0.0, 7.25, 7.25, 1.0)


def test_empty_window_and_bad_arguments_are_errors() -> None:
    with pytest.raises(EmptyWindowError):
        window_stats([], 600)
    with pytest.raises(ValueError):
        window_stats([1.0], 0)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=700))
def test_percentiles_of_unsorted_values_are_numpys(values: list[float]) -> None:
    arr = np.array(values, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(arr))))
    got = percentiles(values)
    assert len(got) == 3
    for q, value in zip((50, 95, 99), got, strict=True):
        assert math.isclose(value, float(np.percentile(arr, q)), rel_tol=1e-9, abs_tol=1e-9 * scale)
    assert percentiles(values, (0.0, 100.0)) == [arr.min(), arr.max()]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(finite, max_size=60), min_size=1, max_size=12).filter(lambda parts: any(parts)))
def test_percentiles_of_parts_are_those_of_all_their_values(parts: list[list[float]]) -> None:
    """A coarse window's percentiles from its minutes' lists (some minutes may be empty) are its values' own."""
    values = [v for part in parts for v in part]
    assert percentiles_of_parts(parts) == percentiles(values)
    assert percentiles_of_parts(parts, (0.0, 100.0)) == [min(values), max(values)]
    with pytest.raises(EmptyWindowError):
        percentiles_of_parts([[], []])
