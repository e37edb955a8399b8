"""Restate 10-minute window rows when late readings arrive for them.

The stream job closes a turbine's 10-minute window at the watermark and keeps what arrives later in
``late_readings``, never in the window. This restates each window that late readings touched: it recomputes
the window from every reading the raw table holds for it (on time and late, each once), with the job's own
statistics (``udfs.windows``), and writes the row as a new **version**, where ``version`` is the number of
readings it was computed from (the job's rows carry their count there too):

- Iceberg ``turbine_agg_10m``: the new version is appended; the earlier one stays, so analysts read the latest
  version per window (``max(version)``) and can still see what was published first;
- Postgres ``turbine_agg_10m``: upserted with the job's guard (a row never goes back to a lower version);
- Kafka aggregates topic: the new version, as the job's own JSON record, in one transaction.

A window whose newest row already has the recomputed version is left alone, so running it twice does nothing.
Late readings from the newest ``settle_s`` of commits wait for a later run (more may be on the way).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pyarrow as pa
from pyiceberg.expressions import And, GreaterThanOrEqual, In, LessThan

from anemos import repair
from anemos.platform import Names
from iceberg.catalog import open_catalog
from stack.manager import catalog_properties
from stack.settings import StackSettings
from udfs.windows import window_stats

log = logging.getLogger("anemos.restate")

WINDOW = timedelta(minutes=10)
KEY = ("turbine_id", "sensor_id", "window_start")


@dataclass
class RestateReport:
    late_readings: int  # late rows the range's snapshots added
    windows: int  # 10-minute windows they fall in
    restated: int  # windows written as a new version
    unchanged: int  # windows whose newest row already counts every reading
    sample: list[str] = field(default_factory=list)  # "turbine sensor window_start vOLD -> vNEW"


def _window_start(ts: datetime) -> datetime:
    ts = ts.astimezone(timezone.utc)
    return ts - timedelta(minutes=ts.minute % 10, seconds=ts.second, microseconds=ts.microsecond)


def restate(stack: StackSettings, names: Names, since_ms: int, settle_s: float = 60.0, sample_interval_ms: int = 1_000,
            dry_run: bool = False) -> RestateReport:
    catalog = open_catalog(catalog_properties(stack))
    until_ms = int(time.time() * 1000 - settle_s * 1000)
    late = list(repair.added_rows(catalog.load_table(names.table("late_readings")), since_ms, until_ms))
    touched: dict[tuple[str, str, datetime], dict[str, Any]] = {}
    for r in late:
        touched.setdefault((r["turbine_id"], r["sensor_id"], _window_start(r["event_time"])), r)
    if not touched:
        return RestateReport(len(late), 0, 0, 0)
    turbines = sorted({k[0] for k in touched})
    first, last = min(k[2] for k in touched), max(k[2] for k in touched) + WINDOW
    span = And(In("turbine_id", turbines), And(GreaterThanOrEqual("event_time", first.isoformat()), LessThan("event_time", last.isoformat())))
    values: dict[tuple[str, str, datetime], list[float]] = defaultdict(list)
    for r in catalog.load_table(names.readings_table).scan(row_filter=span, selected_fields=(
            "turbine_id", "sensor_id", "event_time", "value")).to_arrow().to_pylist():
        key = (r["turbine_id"], r["sensor_id"], _window_start(r["event_time"]))
        if key in touched:
            values[key].append(r["value"])
    aggs = catalog.load_table(names.table("turbine_agg_10m"))
    newest: dict[tuple[str, str, datetime], dict[str, Any]] = {}
    window_span = And(In("turbine_id", turbines), And(GreaterThanOrEqual("window_start", first.isoformat()),
                                                       LessThan("window_start", last.isoformat())))
    for r in aggs.scan(row_filter=window_span).to_arrow().to_pylist():
        key = (r["turbine_id"], r["sensor_id"], r["window_start"].astimezone(timezone.utc))
        if key in touched and r["version"] > newest.get(key, {}).get("version", -1):
            newest[key] = r
    rows = []
    for key, sample in sorted(touched.items()):
        vals = values.get(key, [])
        old = newest.get(key)
        if not vals or (old is not None and old["version"] >= len(vals)):
            continue
        st = window_stats(vals, int(WINDOW.total_seconds() * 1000) // sample_interval_ms)
        base = old or sample
        rows.append({"turbine_id": key[0], "sensor_id": key[1], "sensor_type": base["sensor_type"], "site_id": base["site_id"],
                     "window_start": key[2], "window_end": key[2] + WINDOW, "sample_count": st.count, "avg_value": st.avg,
                     "min_value": st.min, "max_value": st.max, "stddev_value": st.stddev, "p50": st.p50, "p95": st.p95,
                     "p99": st.p99, "coverage": st.coverage, "version": st.count, "_old": old["version"] if old else 0})
    report = RestateReport(len(late), len(touched), len(rows), len(touched) - len(rows),
                           [f"{r['turbine_id']} {r['sensor_id']} {r['window_start']:%Y-%m-%d %H:%M} v{r['_old']} -> v{r['version']}"
                            for r in rows[:3]])
    if rows and not dry_run:
        _write(stack, names, aggs, [{k: v for k, v in r.items() if k != "_old"} for r in rows])
        log.warning("restated %d 10-minute windows with late readings", len(rows))
    return report


def _write(stack: StackSettings, names: Names, aggs: Any, rows: list[dict[str, Any]]) -> None:
    from flink_jobs.ingest.types import TURBINE_AGG_COLUMNS
    from flink_jobs.ingest.sinks import versioned_upsert

    aggs.append(pa.Table.from_pylist(rows, schema=aggs.schema().as_arrow()))
    with psycopg.connect(stack.postgres_dsn, options="-c timezone=UTC") as conn:
        query = versioned_upsert("turbine_agg_10m", TURBINE_AGG_COLUMNS, KEY)
        conn.cursor().executemany(query, [tuple(r[c] for c in TURBINE_AGG_COLUMNS) for r in rows])
    output = repair.OUTPUTS["aggregates"]
    repair.produce(stack, names.aggregates_topic, output, [output.record(r, {"grain": "10m"}) for r in rows])
