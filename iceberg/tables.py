"""The Iceberg tables of the platform: schema, partition spec, sort order, properties."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.sorting import SortField, SortOrder
from pyiceberg.transforms import DayTransform, IdentityTransform, MonthTransform
from pyiceberg.types import IntegerType, LongType, StringType, TimestamptzType

import schemas
from iceberg.schema import from_avro

NAMESPACE = "wind"

# Flink's committer and the analysts' engines both read these. Format v2 for row-level
# deletes later; zstd parquet; the metadata log kept short because Flink commits often.
COMMON_PROPERTIES = {
    "format-version": "2",
    "write.format.default": "parquet",
    "write.parquet.compression-codec": "zstd",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "50",
    "write.target-file-size-bytes": str(128 * 1024 * 1024),
}


@dataclass(frozen=True)
class TableDef:
    name: str
    schema: Schema
    partition_spec: PartitionSpec
    sort_order: SortOrder
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def identifier(self) -> str:
        return f"{NAMESPACE}.{self.name}"


def readings() -> TableDef:
    """wind.readings: every accepted reading once, with its Kafka origin; by event day."""
    schema = from_avro(
        schemas.load("sensor_reading"),
        extra=[
            ("kafka_partition", IntegerType(), "partition of telemetry.raw the reading came from"),
            ("kafka_offset", LongType(), "offset in that partition"),
        ],
    )
    event_time = schema.find_field("event_time").field_id
    turbine = schema.find_field("turbine_id").field_id
    sensor = schema.find_field("sensor_id").field_id
    spec = PartitionSpec(PartitionField(source_id=event_time, field_id=1000, transform=DayTransform(), name="event_day"))
    # analysts filter by turbine and time: cluster files that way
    order = SortOrder(
        SortField(source_id=turbine, transform=IdentityTransform()),
        SortField(source_id=sensor, transform=IdentityTransform()),
        SortField(source_id=event_time, transform=IdentityTransform()),
    )
    return TableDef("readings", schema, spec, order, dict(COMMON_PROPERTIES))


def _layout(schema: Schema, time_col: str, sort_cols: tuple[str, ...], monthly: bool = False) -> tuple[PartitionSpec, SortOrder]:
    """Partition by the event day (month for hourly rows), files sorted for the analysts' filters."""
    source = schema.find_field(time_col).field_id
    transform, name = (MonthTransform(), f"{time_col}_month") if monthly else (DayTransform(), f"{time_col}_day")
    spec = PartitionSpec(PartitionField(source_id=source, field_id=1000, transform=transform, name=name))
    order = SortOrder(*(SortField(source_id=schema.find_field(c).field_id, transform=IdentityTransform()) for c in sort_cols))
    return spec, order


def _turbine_agg(name: str) -> TableDef:
    schema = from_avro(schemas.load("turbine_aggregate"))
    spec, order = _layout(schema, "window_start", ("turbine_id", "sensor_id", "window_start"))
    return TableDef(name, schema, spec, order, dict(COMMON_PROPERTIES))


def turbine_agg_1m() -> TableDef:
    """wind.turbine_agg_1m: 1-minute statistics per turbine and channel."""
    return _turbine_agg("turbine_agg_1m")


def turbine_agg_10m() -> TableDef:
    """wind.turbine_agg_10m: 10-minute statistics per turbine and channel (the SCADA standard)."""
    return _turbine_agg("turbine_agg_10m")


def site_agg_1h() -> TableDef:
    """wind.site_agg_1h: hourly statistics per site and channel; monthly partitions (few rows)."""
    schema = from_avro(schemas.load("site_aggregate"))
    spec, order = _layout(schema, "window_start", ("site_id", "sensor_type", "window_start"), monthly=True)
    return TableDef("site_agg_1h", schema, spec, order, dict(COMMON_PROPERTIES))


def alerts() -> TableDef:
    """wind.alerts: every alert transition, by event day, clustered by turbine."""
    schema = from_avro(schemas.load("alert"))
    spec, order = _layout(schema, "event_time", ("turbine_id", "rule", "event_time"))
    return TableDef("alerts", schema, spec, order, dict(COMMON_PROPERTIES))


LATE_EXTRA = [
    ("kafka_partition", IntegerType(), "partition of telemetry.raw the reading came from"),
    ("kafka_offset", LongType(), "offset in that partition"),
    ("site_id", StringType(), "site of the turbine, from the registry"),
    ("arrival_watermark", TimestamptzType(), "the job's event-time watermark when the reading arrived"),
]


def late_readings() -> TableDef:
    """wind.late_readings: readings that arrived after their 1-minute window had fired."""
    schema = from_avro(schemas.load("sensor_reading"), extra=LATE_EXTRA)
    spec, order = _layout(schema, "event_time", ("turbine_id", "sensor_id", "event_time"))
    return TableDef("late_readings", schema, spec, order, dict(COMMON_PROPERTIES))


def rejected() -> TableDef:
    """wind.rejected: every dead letter of the job, with raw bytes and origin, by detection day."""
    schema = from_avro(schemas.load("dead_letter"))
    spec, order = _layout(schema, "detected_at", ("reason_code", "detected_at"))
    return TableDef("rejected", schema, spec, order, dict(COMMON_PROPERTIES))


ALL = (readings, turbine_agg_1m, turbine_agg_10m, site_agg_1h, alerts, late_readings, rejected)
