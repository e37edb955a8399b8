"""The telemetry job, one Flink job from telemetry.raw to every sink.

    telemetry.raw (bytes; per-partition watermarks on the record timestamp, the bridge's heartbeats included,
                   then dropped)
      -> decode (a pandas map over Arrow batches), enriched from the registry -> dead letters: telemetry.dlq, wind.rejected
      -> dedupe by msg_id (Flink SQL, keyed state with TTL)
      -> late or on time (Flink SQL, split_late.sql)  -> late readings: wind.late_readings (+ metric late_readings)
      -> new readings, on time and late: wind.readings
      -> on time: 1 min / 10 min per turbine and channel, 1 h per site (Flink SQL windows, percentiles in Python once
                  per window row; the window plan: "direct", each window reading the readings, turbine_window.sql and
                  site_window.sql; or "cascade", the minute's parts making the coarser windows, cascade_*.sql)
           -> wind.turbine_agg_1m / _10m, wind.site_agg_1h, Kafka telemetry.aggregates
           -> Postgres hot tables (Python sink, version-guarded upserts)
      -> on time: a turbine's readings of one instant, once the watermark passed it (Flink SQL, rule_batches.sql)
           -> key by turbine_id -> turbine-rules (Python, keyed state) -> alerts: wind.alerts, Kafka alerts
                                                                     -> last-known-good: Redis (event-time guarded)

Per-reading work stays in the JVM where it can (source, dedupe, lateness, windows, sinks); Python
decodes readings in Arrow batches and runs the per-turbine rules once per turbine and instant.
Every Python DataStream operator has a stable uid for restores (the decoder keeps no state).
"""

from __future__ import annotations

from collections.abc import Callable

from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.base import Sink
from pyflink.java_gateway import get_gateway
from pyflink.table import DataTypes, Schema, StreamTableEnvironment, Table
from pyflink.table.expressions import col
from pyflink.util.java_utils import load_java_class

from flink_jobs.common import checkpoints, sql
from flink_jobs.common.settings import JobSettings
from flink_jobs.ingest.functions import (
    PARTS_PERCENTILES_FUNCTION, PERCENTILES_FUNCTION, decode_batches, window_percentiles, window_percentiles_of_parts,
)
from flink_jobs.ingest.sinks import HOT_KEY, PostgresUpsert
from flink_jobs.ingest.turbine import CountLate, TurbineRules
from flink_jobs.ingest.types import ALERT_ROW, SITE_AGG_COLUMNS, TURBINE_AGG_COLUMNS, Types
from udfs.lateness import FINEST_WINDOW_MS
from udfs.wire import HEARTBEAT_KEY

HOT_TABLES = (  # (view of window rows, Postgres table, columns, primary key)
    ("turbine_agg_1m", "turbine_agg_1m", TURBINE_AGG_COLUMNS, ["turbine_id", "sensor_id", "window_start"]),
    ("turbine_agg_10m", "turbine_agg_10m", TURBINE_AGG_COLUMNS, ["turbine_id", "sensor_id", "window_start"]),
    ("site_agg_1h", "site_agg_1h", SITE_AGG_COLUMNS, ["site_id", "sensor_type", "window_start"]),
)


# every sink's INSERT, in one statement set
INSERTS = ("insert_readings.sql", "insert_late.sql", "insert_dlq.sql", "insert_alerts.sql", "insert_aggregates.sql")


def sql_params(settings: JobSettings) -> dict[str, object]:
    c = settings.catalog
    return {
        "catalog_name": c["name"], "uri": c["uri"], "jdbc_user": c["jdbc.user"], "jdbc_password": c["jdbc.password"],
        "warehouse": c["warehouse"], "s3_endpoint": c["s3.endpoint"], "s3_access_key_id": c["s3.access-key-id"],
        "s3_secret_access_key": c["s3.secret-access-key"], "s3_region": c["s3.region"],
        "raw_topic": settings.raw_topic, "dlq_topic": settings.dlq_topic, "bootstrap_servers": settings.bootstrap_servers,
        "aggregates_topic": settings.aggregates_topic, "alerts_topic": settings.alerts_topic,
        "consumer_group": settings.consumer_group, "partition_fetch_bytes": settings.effective_partition_fetch_bytes, "transaction_timeout_ms": settings.kafka_transaction_timeout_ms,
        "job_name": settings.job_name, "namespace": settings.namespace,
        "watermark_bound_s": f"{settings.watermark_bound_s:.3f}",  # an SQL interval literal, to the millisecond
        "sample_interval_ms": settings.sample_interval_ms,
        "finest_window_ms": FINEST_WINDOW_MS,  # lateness in SQL by the rule of udfs.lateness.is_late
        "heartbeat_key": HEARTBEAT_KEY.decode(),
    }


def with_rowtime(proctime: str | None = None, event_time_ms: str = "event_time_ms") -> Schema:
    """Event time in SQL: the reading's own timestamp, watermarks as the Kafka source generated them."""
    builder = Schema.new_builder().column_by_expression("rowtime", f"TO_TIMESTAMP_LTZ({event_time_ms}, 3)")
    if proctime:
        builder = builder.column_by_expression("proc_time", proctime)
    return builder.watermark("rowtime", "SOURCE_WATERMARK()").build()


def record_rowtime() -> Schema:
    """A stream's own record timestamps as its event time, the watermarks as they come (a window's rows: its
    window_time). A function, not a constant: a schema is built in the JVM, which must not start on import (the
    job sets its class path first)."""
    return (Schema.new_builder().column_by_metadata("rowtime", DataTypes.TIMESTAMP_LTZ(3))
            .watermark("rowtime", "SOURCE_WATERMARK()").build())


def to_internal_stream(t_env: StreamTableEnvironment, table: Table) -> DataStream:
    """An insert-only table as a JVM data stream of Flink's internal rows (RowData), for a stream that only goes
    back into SQL. ``to_data_stream`` makes a Row object of every row, each string a Java String, and
    ``from_data_stream`` turns them back: two conversions of every field for nothing. Only for a stream that no
    Python DataStream operator reads (those need Rows), and not for the dedupe's output, which Flink plans as an
    update stream when it goes to ``toDataStream`` (a Rank, not the insert-only Deduplicate it runs otherwise)."""
    row_data = load_java_class("org.apache.flink.table.data.RowData")
    internal = table._j_table.getResolvedSchema().toPhysicalRowDataType().bridgedTo(row_data)
    return DataStream(t_env._j_tenv.toDataStream(table._j_table, internal))


def to_changelog_stream_of_internal_strings(t_env: StreamTableEnvironment, table: Table) -> DataStream:
    """``to_changelog_stream`` with every character string left as Flink's internal StringData, for a stream that
    only goes back into SQL: the Rows stay (the dedupe's output cannot take ``to_internal_stream``), but no string
    is decoded into a Java String and encoded back on the way, and ``from_data_stream`` takes the same types."""
    string_data = load_java_class("org.apache.flink.table.data.StringData")
    schema = get_gateway().jvm.org.apache.flink.table.api.Schema.newBuilder()
    for column in table._j_table.getResolvedSchema().getColumns():
        data_type = column.getDataType()
        if data_type.getLogicalType().getTypeRoot().name() in ("CHAR", "VARCHAR"):
            data_type = data_type.bridgedTo(string_data)
        schema = schema.column(column.getName(), data_type)
    return DataStream(t_env._j_tenv.toChangelogStream(table._j_table, schema.build()))


def execute(t_env: StreamTableEnvironment, statements: list[str]) -> None:
    for statement in statements:
        t_env.execute_sql(statement)


def load(names: tuple[str, ...], params: dict[str, object]) -> list[str]:
    """The statements of sql/flink/<name> for each name, in order."""
    return [statement for name in names for statement in sql.load(f"flink/{name}", params)]


def create_windows(t_env: StreamTableEnvironment, params: dict[str, object], plan: str,
                   edit: Callable[[list[str]], list[str]] = list) -> None:
    """The window views, from ontime_readings: turbine_agg_1m_window, turbine_agg_10m_window and site_agg_1h_window,
    the same columns and statistics in either window plan (JobSettings.effective_window_plan; their state differs,
    so a job restores only the plan its checkpoints were made with).

    "direct": each window reads the readings (turbine_window.sql, once per size, and site_window.sql), so a
    reading goes into three window aggregations, and each keeps every value of its window in one list that is
    rewritten whole at each flush of its buffer (twice a second with 500 ms checkpoints): the 10-minute and
    site-hour lists grow all window long.
    "cascade": only the minute reads the readings (cascade_parts.sql); the 10-minute and site-hour windows are
    made of its rows (cascade_turbine_10m.sql, cascade_site_1h.sql), one per turbine, channel and minute, so their
    lists get a row once a minute. The parts cross into a JVM data stream once and come back as turbine_parts_1m
    (rowtime = minute_time, watermarks carried on), which the three views read: a view that several queries
    read, each converted to a data stream of its own, is computed once per query.
    ``edit`` rewrites each file's statements (bench.ceiling_job's shapes). The views call PERCENTILES_FUNCTION
    (and, cascading, PARTS_PERCENTILES_FUNCTION) once per window row; the caller registers them."""
    if plan == "direct":
        for view, minutes in (("turbine_agg_1m_window", 1), ("turbine_agg_10m_window", 10)):
            statements = sql.load("flink/turbine_window.sql", {**params, "view": view, "window_minutes": minutes})
            execute(t_env, edit(statements))
        execute(t_env, edit(sql.load("flink/site_window.sql", params)))
        return
    if plan != "cascade":
        raise ValueError(f"unknown window plan {plan!r} (direct or cascade)")
    execute(t_env, edit(sql.load("flink/cascade_parts.sql", params)))
    parts = to_internal_stream(t_env, t_env.from_path("turbine_parts_1m_window"))
    t_env.create_temporary_view("turbine_parts_1m", t_env.from_data_stream(parts, record_rowtime()))
    execute(t_env, edit(sql.load("flink/cascade_turbine_1m.sql", params)))
    execute(t_env, edit(sql.load("flink/cascade_turbine_10m.sql", params)))
    execute(t_env, edit(sql.load("flink/cascade_site_1h.sql", params)))


def dedupe_with_event_time(t_env: StreamTableEnvironment, params: dict[str, object]) -> None:
    """decoded_readings (a view the caller made) -> new_readings, the msg_id dedupe, -> deduped_readings, the same
    rows with their event-time attribute back.

    The dedupe runs in the JVM (keyed state with TTL = dedupe_ttl_ms): a lookup per reading there costs
    microseconds, against a round trip per reading from a Python worker. Its output is a changelog stream only
    in name (keep-first on processing time emits inserts alone), but the planner keeps no event-time attribute
    through the ROW_NUMBER query; the round trip through a JVM data stream gives it back."""
    execute(t_env, load(("dedupe.sql",), params))
    deduped = to_changelog_stream_of_internal_strings(t_env, t_env.from_path("new_readings"))
    t_env.create_temporary_view("deduped_readings", t_env.from_data_stream(deduped, with_rowtime()))


def build(env: StreamExecutionEnvironment, t_env: StreamTableEnvironment, settings: JobSettings) -> None:
    """Add the whole job to ``env``; the caller executes it."""
    params = sql_params(settings)
    # the window plan, readable from Flink's REST API (a stop with a savepoint records it next to the savepoint)
    config = env.get_config()
    config.set_global_job_parameters({**config.get_global_job_parameters(),
                                      checkpoints.WINDOW_PLAN_PARAMETER: settings.effective_window_plan})
    execute(t_env, load(("iceberg_catalog.sql", "raw_source.sql", "dlq_sink.sql", "kafka_sinks.sql"), params))

    # decoding, vectorized: Arrow batches of raw records cross into Python, rows of readings or dead letters
    # come back (one Python crossing per batch); the rest of the path is the JVM's until the rules
    decode = decode_batches(settings.registry_url, settings.postgres_dsn, settings.registry_refresh_s)
    raw = t_env.from_path("raw_records")  # read once: only the decoder reads it (heartbeats left out)
    results = to_internal_stream(
        t_env, raw.map(decode(col("record_value"), col("source_topic"), col("source_partition"), col("source_offset")))
    )
    # the source's watermarks carried on (a dead letter has no event time: 0 stands in, and it is filtered out)
    t_env.create_temporary_view("decode_results", t_env.from_data_stream(results, with_rowtime("PROCTIME()", "COALESCE(event_time_ms, 0)")))
    execute(t_env, load(("decode_split.sql",), params))
    dedupe_with_event_time(t_env, params)
    execute(t_env, load(("split_late.sql", "rule_batches.sql"), params))
    alerts = (
        t_env.to_data_stream(t_env.from_path("rule_batches"))
        .key_by(lambda batch: batch.turbine_id, key_type=Types.STRING())
        .process(
            TurbineRules(
                dsn=settings.postgres_dsn, redis_url=settings.redis_url, redis_prefix=settings.redis_prefix,
                loss_after_ms=settings.loss_after_ms,
                registry_refresh_s=settings.registry_refresh_s,
            ),
            output_type=ALERT_ROW,
        )
        .uid("turbine-rules")
        .name("turbine-rules")
    )
    t_env.create_temporary_view("alert_records", t_env.from_data_stream(alerts))
    # the late rows go to Iceberg from SQL; this branch only counts them (they are few)
    (
        t_env.to_data_stream(t_env.from_path("late_records"))
        .process(CountLate()).uid("late-readings-metric").name("late-readings-metric")
        .sink_to(discarding_sink())
    )
    t_env.create_temporary_system_function(PERCENTILES_FUNCTION, window_percentiles())
    t_env.create_temporary_system_function(PARTS_PERCENTILES_FUNCTION, window_percentiles_of_parts())
    create_windows(t_env, params, settings.effective_window_plan)

    # each window is computed once: its rows go to Postgres from Python, and back into SQL
    # (the views the inserts read) for Iceberg and Kafka
    for view, table, columns, key in HOT_TABLES:
        rows = t_env.to_data_stream(t_env.from_path(f"{view}_window"))
        (
            rows.key_by(lambda _row: HOT_KEY, key_type=Types.INT())
            .process(PostgresUpsert(settings.postgres_dsn, table, columns, key, settings.hot_retention_days,
                                    settings.hot_flush_ms))
            .uid(f"postgres-{table}")
            .name(f"postgres-{table}")
            .sink_to(discarding_sink())  # the upserts are the effect; a graph needs a sink to run them
        )
        t_env.create_temporary_view(view, t_env.from_data_stream(rows))

    statements = t_env.create_statement_set()
    for statement in load(INSERTS, params):
        statements.add_insert_sql(statement)
    statements.attach_as_datastream()


def discarding_sink() -> Sink:
    return Sink(get_gateway().jvm.org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink())
