"""The windows on the local mini-cluster, in both window plans: the job's own window SQL and views
(pipeline.create_windows), its Python WINDOW_PERCENTILES and WINDOW_PERCENTILES_OF_PARTS.

A window keeps its values (ARRAY_AGG) and one Python call per window row sorts them (udfs.windows); in the
cascade plan the 10-minute and site-hour windows are made of the minutes' rows. Three things can go wrong that
the end-to-end oracle would only show as slowness or as a wrong row: the planner repeating the call for p50, p95
and p99 (it duplicates a deterministic call when it merges the projections), a window's values not all reaching
the call, and a coarse window missing or double counting a part. So: the optimized plan has one call per window
view, only the cascade's minute reads the readings, and the rows of a bounded run hold numpy's count, average,
stddev, extremes and percentiles of exactly the values each window got, in either plan.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import datetime, timezone
from typing import NamedTuple

import numpy as np
import pytest
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from flink_jobs.ingest.functions import (
    PARTS_PERCENTILES_FUNCTION, PERCENTILES_FUNCTION, window_percentiles, window_percentiles_of_parts,
)
from flink_jobs.ingest.pipeline import create_windows

pytestmark = pytest.mark.flink

SECONDS = 4000  # of event time: 67 one-minute windows per channel (the last of 40 s), 7 of 10 minutes, 2 site hours
PER_SECOND = 6  # readings: two turbines x three channels, one site
PARAMS = {"sample_interval_ms": 1000}
VIEWS = ("turbine_agg_1m_window", "turbine_agg_10m_window", "site_agg_1h_window")


def value_of(n: int) -> float:  # spread and unordered, so that every percentile interpolates; as in the SQL below
    return float((n * 7919) % 1009) / 7.0


class Windows(NamedTuple):
    plan: str
    t: StreamTableEnvironment


@pytest.fixture(scope="module", params=["direct", "cascade"])
def windows(request: pytest.FixtureRequest) -> Windows:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    t = StreamTableEnvironment.create(env)
    t.get_config().set("table.local-time-zone", "UTC")
    rows = SECONDS * PER_SECOND
    t.execute_sql(f"""
        CREATE TEMPORARY TABLE readings_src (n BIGINT, rowtime AS TO_TIMESTAMP_LTZ((n - MOD(n, {PER_SECOND})) * 1000 / {PER_SECOND}, 3),
          WATERMARK FOR rowtime AS rowtime) WITH (
          'connector' = 'datagen', 'number-of-rows' = '{rows}',
          'fields.n.kind' = 'sequence', 'fields.n.start' = '0', 'fields.n.end' = '{rows - 1}')""")
    t.execute_sql("""
        CREATE TEMPORARY VIEW ontime_readings AS
        SELECT CONCAT('t', CAST(MOD(n, 2) AS STRING)) AS turbine_id,
               CONCAT('s', CAST(MOD((n - MOD(n, 2)) / 2, 3) AS STRING)) AS sensor_id, 'wind_speed' AS sensor_type,
               'site-a' AS site_id, n AS event_time_ms, CAST(MOD(n * 7919, 1009) AS DOUBLE) / 7.0 AS `value`, rowtime
        FROM readings_src""")
    t.create_temporary_system_function(PERCENTILES_FUNCTION, window_percentiles())
    t.create_temporary_system_function(PARTS_PERCENTILES_FUNCTION, window_percentiles_of_parts())
    create_windows(t, PARAMS, request.param)
    return Windows(request.param, t)


def minute_of(ts: datetime) -> int:
    return int(ts.replace(tzinfo=timezone.utc).timestamp()) // 60


STATS = "sample_count, avg_value, stddev_value, min_value, max_value, p50, p95, p99"


def assert_exact(got: dict[tuple[object, ...], tuple[float, ...]], expected: dict[tuple[object, ...], list[float]]) -> None:
    assert set(got) == set(expected)
    for key, values in expected.items():
        count, avg, stddev, low, high, *pct = got[key]
        assert count == len(values), key
        assert (low, high) == (min(values), max(values)), key
        # the sums Flink's own AVG and STDDEV_POP come down to (cascading: added up per minute, then per window)
        assert math.isclose(avg, float(np.mean(values)), rel_tol=1e-12), key
        assert math.isclose(stddev, float(np.std(values)), rel_tol=1e-9), key
        for q, value in zip((50, 95, 99), pct, strict=True):
            assert math.isclose(value, float(np.percentile(values, q)), rel_tol=1e-12, abs_tol=1e-12), (key, q)


def test_the_plan_sorts_each_window_once(windows: Windows) -> None:
    for view in VIEWS:
        plan = windows.t.explain_sql(f"SELECT * FROM {view}").split("== Optimized Execution Plan ==")[1]
        calls = re.findall(rf"({PERCENTILES_FUNCTION}|{PARTS_PERCENTILES_FUNCTION})\(", plan)
        assert len(calls) == 1, f"{view}: {len(calls)} percentile calls per row\n{plan}"


def test_only_the_cascades_minute_reads_the_readings(windows: Windows) -> None:
    """Cascading, the views read the minutes' parts, converted once: no view's plan scans the readings again.
    Direct, each view aggregates the readings itself."""
    if windows.plan == "direct":
        for view in VIEWS:
            plan = windows.t.explain_sql(f"SELECT * FROM {view}").split("== Optimized Execution Plan ==")[1]
            assert "readings_src" in plan, f"{view} does not read the readings\n{plan}"
        return
    parts = windows.t.explain_sql("SELECT * FROM turbine_parts_1m_window").split("== Optimized Execution Plan ==")[1]
    assert "readings_src" in parts
    for view in VIEWS:
        plan = windows.t.explain_sql(f"SELECT * FROM {view}").split("== Optimized Execution Plan ==")[1]
        assert "readings_src" not in plan, f"{view} aggregates the readings again\n{plan}"


def test_every_window_row_has_the_exact_statistics_of_its_values(windows: Windows) -> None:
    grains = {"turbine_agg_1m_window": 1, "turbine_agg_10m_window": 10}
    expected: dict[str, dict[tuple[object, ...], list[float]]] = {view: defaultdict(list) for view in VIEWS}
    for n in range(SECONDS * PER_SECOND):
        minute = (n // PER_SECOND) // 60
        for view, size in grains.items():
            expected[view][(f"t{n % 2}", f"s{(n // 2) % 3}", minute // size * size)].append(value_of(n))
        expected["site_agg_1h_window"][("site-a", minute // 60 * 60)].append(value_of(n))
    for view in grains:
        got = {}
        with windows.t.execute_sql(f"SELECT turbine_id, sensor_id, window_start, {STATS} FROM {view}").collect() as rows:
            for r in rows:
                got[(r[0], r[1], minute_of(r[2]))] = tuple(r[3:])
        assert_exact(got, expected[view])
    got = {}
    with windows.t.execute_sql(f"SELECT site_id, window_start, {STATS} FROM site_agg_1h_window").collect() as rows:
        for r in rows:
            got[(r[0], minute_of(r[1]))] = tuple(r[2:])
    assert_exact(got, expected["site_agg_1h_window"])
