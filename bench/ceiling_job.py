"""The ingest job's JVM part alone, for bench.stream_ceiling: how fast this machine drains telemetry.raw when
no reading crosses into Python. Not a product job: it decodes with Flink's avro-confluent format (a poison
record would fail it, where the real job makes a dead letter), enriches nothing (so, unlike the job since
bench.stream_e2e registers its fleet, it fills no site_agg_1h rows) and runs no rules.

    python -m bench.ceiling_job --shape sql|nopct|dedupe|source [the flags of python -m flink_jobs.ingest]

Shapes:
  sql     the ingest job's own SQL from the decoded rows on (decode_split, dedupe, split_late, the three
          window aggregations, the inserts into wind.readings, late_readings, rejected, the aggregate tables
          and Kafka telemetry.aggregates), with the window rows going straight to their sinks (no Postgres);
          in the job's window plan (--window-plan); the windows keep their values as the job's do (ARRAY_AGG; in
          the cascade plan per minute, the minutes' lists in the coarser windows) but take the first three for
          p50, p95 and p99 in place of the job's Python WINDOW_PERCENTILES and WINDOW_PERCENTILES_OF_PARTS (once
          per window row, not per reading)
  nopct   the sql shape with averages in place of the windows' values (an ablation: what keeping them costs)
  dedupe  the sql shape without the windows: decode_split, the dedupe and the lateness split, into wind.readings,
          late_readings and rejected
  source  Kafka to wind.readings and nothing else: what storing the raw readings costs on its own

All run on the environment of the ingest job (flink_jobs.common.env: RocksDB, exactly-once checkpoints,
the same settings and flags) and commit to Iceberg on checkpoints, so the bench measures them the same way.
The topic must hold no heartbeats (the bench's bridge sends none): the format cannot read an empty record,
and the source decodes before the job's filter of them (raw_records) sees the key.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pyflink.table import StreamTableEnvironment

from bench import describe
from flink_jobs.common import sql
from flink_jobs.common.settings import JobSettings
from flink_jobs.ingest.__main__ import parse
from flink_jobs.ingest.pipeline import (
    HOT_TABLES, create_windows, dedupe_with_event_time, execute, load, sql_params,
)

log = logging.getLogger("anemos.ceiling")
SHAPES = ("sql", "nopct", "dedupe", "source")
# each window's percentiles: in the job, a Python function over the window's values (a list in RocksDB), or in
# the cascade plan over the lists of the minutes a coarser window is made of; the sql shape keeps the same state
# and calls no Python (p50..p99 are the first values), the nopct shape keeps averages in place of the values
PERCENTILE_CALL = "WINDOW_PERCENTILES(ARRAY_AGG(`value`))"
NO_PERCENTILE = "ARRAY[AVG(`value`), AVG(`value`), AVG(`value`)]"
MINUTE_PERCENTILES = "WINDOW_PERCENTILES(window_values)"
PARTS_PERCENTILES = "WINDOW_PERCENTILES_OF_PARTS(ARRAY_AGG(window_values))"
KEEP_VALUES = "ARRAY_AGG(`value`) AS window_values"
CASCADE_JVM_PERCENTILES = {MINUTE_PERCENTILES: "window_values", PARTS_PERCENTILES: "ARRAY_AGG(window_values)[1]"}
SHAPE_EDITS = {
    "direct": {"sql": {PERCENTILE_CALL: "ARRAY_AGG(`value`)"}, "nopct": {PERCENTILE_CALL: NO_PERCENTILE}},
    "cascade": {"sql": CASCADE_JVM_PERCENTILES,
                "nopct": {**CASCADE_JVM_PERCENTILES, KEEP_VALUES: f"{NO_PERCENTILE} AS window_values"}},
}


# raw_source.sql's table, read by the registry's schema in the JVM: its one value column becomes the
# SensorReading fields (the reader schema Flink derives from them must resolve against the writer's; times as
# plain longs) and a processing-time column for the dedupe, and its value format avro-confluent. Everything
# else (topic, group, fetch size, watermarks, the heartbeat filter of raw_records) stays the job's.
AVRO_COLUMNS = ("`msg_id` STRING NOT NULL, `turbine_id` STRING NOT NULL, `sensor_id` STRING NOT NULL, "
                "`sensor_type` STRING NOT NULL, `event_time` BIGINT NOT NULL, `value` DOUBLE NOT NULL, "
                "`edge_id` STRING NOT NULL, `batch_id` STRING NOT NULL, `received_at` BIGINT NOT NULL, "
                "`proc_time` AS PROCTIME(),")


def avro_source(statements: list[str], registry_url: str) -> list[str]:
    """raw_source.sql's statements with its table decoding Avro (ValueError when an edit finds nothing to edit:
    the file changed, and the ceiling would no longer read what the job reads)."""
    url = registry_url.replace("'", "''")  # inside a quoted SQL string, as sql.load quotes its parameters
    edits = (("`record_value` BYTES,", AVRO_COLUMNS),
             ("'value.format' = 'raw',", f"'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{url}',"))
    table = statements[0]
    for old, new in edits:
        if old not in table:
            raise ValueError(f"raw_source.sql has no {old!r}: bench.ceiling_job's Avro source needs updating")
        table = table.replace(old, new)
    return [table, *statements[1:]]


class Edits:
    """Replaces text in the window SQL, file by file (``create_windows``'s ``edit``), and knows what it replaced:
    ``check`` raises ValueError when a replacement found nothing to replace in any file, for the shape would then
    silently measure something else than it says."""

    def __init__(self, replacements: dict[str, str]) -> None:
        self.replacements, self.used = replacements, set[str]()

    def __call__(self, statements: list[str]) -> list[str]:
        out = []
        for statement in statements:
            for old, new in self.replacements.items():
                if old in statement:
                    self.used.add(old)
                    statement = statement.replace(old, new)
            out.append(statement)
        return out

    def check(self) -> None:
        if missing := [old for old in self.replacements if old not in self.used]:
            raise ValueError(f"no {', '.join(missing)} in the window SQL: the ceiling has nothing to replace")


def build(t_env: StreamTableEnvironment, settings: JobSettings, shape: str) -> None:
    params = sql_params(settings)
    execute(t_env, load(("iceberg_catalog.sql", "dlq_sink.sql", "kafka_sinks.sql"), params))
    execute(t_env, avro_source(sql.load("flink/raw_source.sql", params), settings.registry_url))
    if shape == "source":
        inserts = sql.load("bench/ceiling_readings_only.sql", params)
    else:
        execute(t_env, sql.load("bench/ceiling_decode_results.sql", params) + load(("decode_split.sql",), params))
        dedupe_with_event_time(t_env, params)  # as the job does, the round trip included
        execute(t_env, load(("split_late.sql",), params))
        inserts = load(("insert_readings.sql", "insert_late.sql", "insert_dlq.sql"), params)
    if shape in ("sql", "nopct"):
        edits = Edits(SHAPE_EDITS[settings.effective_window_plan][shape])
        create_windows(t_env, params, settings.effective_window_plan, edits)
        edits.check()
        for view, *_sink in HOT_TABLES:
            t_env.create_temporary_view(view, t_env.from_path(f"{view}_window"))
        inserts += load(("insert_aggregates.sql",), params)
    statements = t_env.create_statement_set()
    for statement in inserts:
        statements.add_insert_sql(statement)
    statements.attach_as_datastream()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="python -m bench.ceiling_job", description=describe(__doc__),
                                epilog="Every other flag is one of python -m flink_jobs.ingest (see its --help).")
    p.add_argument("--shape", choices=SHAPES, required=True, help="what part of the job runs (see above)")
    args, rest = p.parse_known_args(sys.argv[1:] if argv is None else argv)
    settings, _detach = parse(rest)
    from flink_jobs.common.env import create

    env, t_env = create(settings)
    build(t_env, settings, args.shape)
    client = env.execute_async(settings.job_name)
    job_id = str(client.get_job_id())
    log.info("ceiling job %s (%s), shape %s, submitted", settings.job_name, job_id, args.shape)
    print(f"JOB_ID {job_id} restored_from={settings.restore_from or '-'}", flush=True)  # what IngestJob waits for
    client.get_job_execution_result().result()
    return 0


if __name__ == "__main__":
    sys.exit(main())
