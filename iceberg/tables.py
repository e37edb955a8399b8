"""The Iceberg tables of the platform: schema, partition spec, sort order, properties."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.sorting import SortField, SortOrder
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import IntegerType, LongType

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


ALL = (readings,)
