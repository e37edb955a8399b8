"""The windows' percentiles on the local mini-cluster: the job's own window SQL, its Python WINDOW_PERCENTILES.

The windows keep their values (ARRAY_AGG) and one Python call per window row sorts them (udfs.windows).
Two things can go wrong that the end-to-end oracle would only show as slowness or as a wrong row: the
planner repeating the call for p50, p95 and p99 (it duplicates a deterministic call when it merges the
projections), and a window's values not all reaching the call. So: the optimized plan has one call per
window view, and the rows of a bounded run hold numpy's percentiles of exactly the values each window got.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import datetime, timezone

import numpy as np
import pytest
from pyflink.table import EnvironmentSettings, TableEnvironment

from flink_jobs.common import sql
from flink_jobs.ingest.functions import PERCENTILES_FUNCTION, window_percentiles

pytestmark = pytest.mark.flink

SECONDS = 4000  # of event time: 67 one-minute windows per channel (the last of 40 s), 2 site hours
PER_SECOND = 6  # readings: two turbines x three channels, one site
PARAMS = {"sample_interval_ms": 1000, "view": "turbine_agg_1m_window", "window_minutes": 1}


def value_of(n: int) -> float:  # spread and unordered, so that every percentile interpolates; as in the SQL below
    return float((n * 7919) % 1009) / 7.0


@pytest.fixture(scope="module")
def windows() -> TableEnvironment:
    t = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    t.get_config().set("parallelism.default", "1")
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
    for statement in sql.load("flink/turbine_window.sql", PARAMS) + sql.load("flink/site_window.sql", PARAMS):
        t.execute_sql(statement)
    return t


def minute_of(ts: datetime) -> int:
    return int(ts.replace(tzinfo=timezone.utc).timestamp()) // 60


def assert_exact(got: dict[tuple[object, ...], tuple[int, float, float, float]], expected: dict[tuple[object, ...], list[float]]) -> None:
    assert set(got) == set(expected)
    for key, values in expected.items():
        count, *pct = got[key]
        assert count == len(values), key
        for q, value in zip((50, 95, 99), pct, strict=True):
            assert math.isclose(value, float(np.percentile(values, q)), rel_tol=1e-12, abs_tol=1e-12), (key, q)


def test_the_plan_sorts_each_window_once(windows: TableEnvironment) -> None:
    for view in ("turbine_agg_1m_window", "site_agg_1h_window"):
        plan = windows.explain_sql(f"SELECT * FROM {view}").split("== Optimized Execution Plan ==")[1]
        calls = re.findall(rf"{PERCENTILES_FUNCTION}\(", plan)
        assert len(calls) == 1, f"{view}: {len(calls)} calls of {PERCENTILES_FUNCTION} per row\n{plan}"


def test_every_window_row_has_the_exact_percentiles_of_its_values(windows: TableEnvironment) -> None:
    turbine: dict[tuple[object, ...], list[float]] = defaultdict(list)
    site: dict[tuple[object, ...], list[float]] = defaultdict(list)
    for n in range(SECONDS * PER_SECOND):
        minute = (n // PER_SECOND) // 60
        turbine[(f"t{n % 2}", f"s{(n // 2) % 3}", minute)].append(value_of(n))
        site[("site-a", minute // 60 * 60)].append(value_of(n))
    got = {}
    with windows.execute_sql("SELECT turbine_id, sensor_id, window_start, sample_count, p50, p95, p99 "
                             "FROM turbine_agg_1m_window").collect() as rows:
        for r in rows:
            got[(r[0], r[1], minute_of(r[2]))] = (r[3], r[4], r[5], r[6])
    assert_exact(got, turbine)
    got = {}
    with windows.execute_sql("SELECT site_id, window_start, sample_count, p50, p95, p99 "
                             "FROM site_agg_1h_window").collect() as rows:
        for r in rows:
            got[(r[0], minute_of(r[1]))] = (r[2], r[3], r[4], r[5])
    assert_exact(got, site)
