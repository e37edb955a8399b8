"""Statistics over one window of one channel: the single definition Flink and Spark share.

Definitions (fixed here so streaming and reprocessing agree to the last digit):
- stddev is the population standard deviation (ddof = 0), computed with Welford's update;
- percentiles interpolate linearly between closest ranks (numpy's default "linear");
- coverage is count / expected count, where the expected count is what the channel's
  sampling interval gives over the window (1.0 = complete, above 1 = duplicates upstream).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WindowStats:
    count: int
    avg: float
    min: float
    max: float
    stddev: float
    p50: float
    p95: float
    p99: float
    coverage: float


class EmptyWindowError(ValueError):
    """A window with no values has no statistics (it is a gap, reported as such)."""


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, linear interpolation."""
    if not sorted_values:
        raise EmptyWindowError("no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} outside [0, 100]")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


PERCENTILE_RANKS = (50.0, 95.0, 99.0)  # p50, p95, p99 of every window row


def percentiles(values: Sequence[float], ranks: Sequence[float] = PERCENTILE_RANKS) -> list[float]:
    """The ``ranks`` percentiles (0..100) of unsorted values, sorted once: what the job's windows compute per row."""
    ordered = sorted(values)
    return [percentile(ordered, q) for q in ranks]


def percentiles_of_parts(parts: Sequence[Sequence[float]], ranks: Sequence[float] = PERCENTILE_RANKS) -> list[float]:
    """The ``ranks`` percentiles of the values of several parts together: a window made of smaller windows, each
    with its values (the job's 10-minute and site-hour windows, made of 1-minute parts)."""
    return percentiles(list(itertools.chain.from_iterable(parts)), ranks)


def window_stats(values: Sequence[float], expected_count: int) -> WindowStats:
    """All statistics of one window; ``expected_count`` must be positive."""
    if not values:
        raise EmptyWindowError("a window with no values has no statistics")
    if expected_count <= 0:
        raise ValueError(f"expected_count must be positive, got {expected_count}")
    mean, m2 = 0.0, 0.0
    for n, v in enumerate(values, start=1):  # Welford: stable for large, close values
        delta = v - mean
        mean += delta / n
        m2 += delta * (v - mean)
    ordered = sorted(values)  # once: the percentiles, the minimum and the maximum all read it
    p50, p95, p99 = (percentile(ordered, q) for q in PERCENTILE_RANKS)
    return WindowStats(
        count=len(values), avg=mean, min=ordered[0], max=ordered[-1], stddev=math.sqrt(max(m2, 0.0) / len(values)),
        p50=p50, p95=p95, p99=p99, coverage=len(values) / expected_count,
    )
