"""What the stream job has written so far, sink by sink (for `anemos sinks` and the demo)."""

from __future__ import annotations

from typing import Any

import psycopg
import redis
from confluent_kafka import Consumer, TopicPartition

from anemos.platform import Names
from iceberg import tables
from iceberg.catalog import committed_row_count, open_catalog
from stack.manager import catalog_properties
from stack.settings import StackSettings

HOT_TABLES = ("turbine_agg_1m", "turbine_agg_10m", "site_agg_1h")


def _topic_records(bootstrap: str, topic: str) -> int:
    """Records in ``topic`` (end minus start offsets; transaction markers included)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "anemos-observe", "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        total = 0
        for p in meta.partitions:
            lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += hi - lo
        return total
    finally:
        consumer.close()


def sink_counts(stack: StackSettings, names: Names = Names()) -> dict[str, Any]:
    catalog = open_catalog(catalog_properties(stack))
    iceberg = {}
    for define in tables.ALL:
        ident = names.table(define().name)
        iceberg[ident] = committed_row_count(catalog.load_table(ident))
    with psycopg.connect(stack.postgres_dsn) as conn:
        postgres = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in HOT_TABLES}  # noqa: S608
    client = redis.Redis.from_url(stack.redis_url)
    lkg = sum(1 for _ in client.scan_iter(match=f"{names.redis_prefix}:lkg:*", count=1000))
    kafka = {t: _topic_records(stack.kafka_bootstrap, t) for t in (names.aggregates_topic, names.alerts_topic, names.dlq_topic)}
    return {"iceberg_rows": iceberg, "postgres_rows": postgres, "redis_lkg_turbines": lkg, "kafka_offsets": kafka}


def turbine_outputs(stack: StackSettings, names: Names, turbine_ids: set[str]) -> dict[str, int]:
    """Rows the job wrote for these turbines: Postgres 1-minute and 10-minute rows, Redis last-known-good hashes."""
    with psycopg.connect(stack.postgres_dsn) as conn:
        rows_1m = conn.execute("SELECT count(*) FROM turbine_agg_1m WHERE turbine_id = ANY(%s)", (list(turbine_ids),)).fetchone()[0]
        rows_10m = conn.execute("SELECT count(*) FROM turbine_agg_10m WHERE turbine_id = ANY(%s)", (list(turbine_ids),)).fetchone()[0]
    client = redis.Redis.from_url(stack.redis_url)
    lkg = sum(client.exists(f"{names.redis_prefix}:lkg:{t}") for t in turbine_ids)
    return {"postgres_1m_rows": rows_1m, "postgres_10m_rows": rows_10m, "redis_lkg_turbines": lkg}
