"""The ingest job: telemetry.raw -> decode -> Iceberg wind.readings, dead letters -> telemetry.dlq."""

from __future__ import annotations

from pyflink.table import StatementSet, StreamTableEnvironment

from flink_jobs.common import sql
from flink_jobs.common.settings import JobSettings
from flink_jobs.ingest.functions import REJECTED, DecodeReadings
from flink_jobs.ingest.types import READING_ROW


def sql_params(settings: JobSettings) -> dict[str, object]:
    c = settings.catalog
    return {
        "catalog_name": c["name"], "uri": c["uri"], "jdbc_user": c["jdbc.user"], "jdbc_password": c["jdbc.password"],
        "warehouse": c["warehouse"], "s3_endpoint": c["s3.endpoint"], "s3_access_key_id": c["s3.access-key-id"],
        "s3_secret_access_key": c["s3.secret-access-key"], "s3_region": c["s3.region"],
        "raw_topic": settings.raw_topic, "dlq_topic": settings.dlq_topic, "bootstrap_servers": settings.bootstrap_servers,
        "consumer_group": settings.consumer_group, "transaction_timeout_ms": settings.kafka_transaction_timeout_ms,
        "transactional_id_prefix": f"{settings.job_name}-dlq", "readings_table": settings.readings_table,
    }


def build(t_env: StreamTableEnvironment, settings: JobSettings) -> StatementSet:
    params = sql_params(settings)
    for name in ("iceberg_catalog.sql", "raw_source.sql", "dlq_sink.sql"):
        for statement in sql.load(f"flink/{name}", params):
            t_env.execute_sql(statement)

    raw = t_env.to_data_stream(t_env.from_path("raw_readings"))
    decoded = raw.process(DecodeReadings(settings.registry_url), output_type=READING_ROW).uid("decode-readings").name(
        "decode-readings"
    )
    t_env.create_temporary_view("decoded_readings", t_env.from_data_stream(decoded))
    t_env.create_temporary_view("rejected_records", t_env.from_data_stream(decoded.get_side_output(REJECTED)))

    statements = t_env.create_statement_set()
    for name in ("insert_readings.sql", "insert_dlq.sql"):
        for statement in sql.load(f"flink/{name}", params):
            statements.add_insert_sql(statement)
    return statements
