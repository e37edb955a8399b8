"""Every output of the stream job follows its .avsc: Iceberg tables, SQL inserts, Kafka sinks, Postgres DDL."""

import re
from pathlib import Path

import pytest

import schemas
from iceberg import tables
from flink_jobs.ingest.types import SITE_AGG_COLUMNS, TURBINE_AGG_COLUMNS

pytestmark = pytest.mark.contract

SQL = Path(schemas.HERE).parent / "sql"


def avro_names(name: str) -> list[str]:
    return [f["name"] for f in schemas.load(name)["fields"]]


def insert_columns(path: Path) -> dict[str, list[str]]:
    """Target table (last name part) -> listed columns, for every INSERT with a column list."""
    found = {}
    for m in re.finditer(r"INSERT INTO (\S+)\s*\((.*?)\)\s*SELECT", path.read_text(), re.S):
        found[m.group(1).split(".")[-1]] = [c.strip("` \n") for c in m.group(2).split(",")]
    return found


@pytest.mark.parametrize("define", tables.ALL, ids=lambda d: d.__name__)
def test_some_insert_writes_every_column_of_the_table_in_order(define) -> None:  # type: ignore[no-untyped-def]
    table = define()
    inserts: dict[str, list[str]] = {}
    for f in (SQL / "flink").glob("insert_*.sql"):
        inserts.update(insert_columns(f))
    assert inserts.get(table.name) == [f.name for f in table.schema.fields], table.name


@pytest.mark.parametrize(("define", "avsc"), [
    (tables.turbine_agg_1m, "turbine_aggregate"), (tables.turbine_agg_10m, "turbine_aggregate"),
    (tables.site_agg_1h, "site_aggregate"), (tables.alerts, "alert"), (tables.rejected, "dead_letter"),
])
def test_iceberg_tables_follow_their_avro_schema(define, avsc: str) -> None:  # type: ignore[no-untyped-def]
    assert [f.name for f in define().schema.fields] == avro_names(avsc)


def test_kafka_sinks_carry_the_avro_fields() -> None:
    text = (SQL / "flink" / "kafka_sinks.sql").read_text()
    sinks = {m.group(1): re.findall(r"^\s+`(\w+)`", m.group(2), re.M)
             for m in re.finditer(r"CREATE TEMPORARY TABLE (\w+) \((.*?)\) WITH", text, re.S)}
    assert sinks["aggregates_sink"] == ["grain", *avro_names("turbine_aggregate")]
    assert sinks["alerts_sink"] == avro_names("alert")


def _pg_columns(ddl: str, table: str) -> list[str]:
    body = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \((.*?)\n\);", ddl, re.S)
    assert body is not None, table
    return [line.split()[0] for line in body.group(1).splitlines()
            if line.strip() and not line.strip().startswith(("PRIMARY", "--"))]


def test_postgres_hot_tables_hold_the_avro_fields_the_sink_writes() -> None:
    ddl = (SQL / "postgres" / "V002__hot_aggregates.sql").read_text()
    turbine, site = _pg_columns(ddl, "turbine_agg_1m"), _pg_columns(ddl, "site_agg_1h")
    assert sorted(turbine) == sorted([*avro_names("turbine_aggregate"), "updated_at"])
    assert sorted(site) == sorted([*avro_names("site_aggregate"), "updated_at"])
    assert sorted(TURBINE_AGG_COLUMNS) == sorted(avro_names("turbine_aggregate"))
    assert sorted(SITE_AGG_COLUMNS) == sorted(avro_names("site_aggregate"))
