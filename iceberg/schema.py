"""Derive an Iceberg schema from a canonical Avro record schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyiceberg.schema import Schema
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DoubleType,
    FloatType,
    IcebergType,
    IntegerType,
    LongType,
    NestedField,
    StringType,
    TimestamptzType,
)

_PRIMITIVES: dict[str, IcebergType] = {
    "string": StringType(),
    "long": LongType(),
    "int": IntegerType(),
    "double": DoubleType(),
    "float": FloatType(),
    "boolean": BooleanType(),
    "bytes": BinaryType(),
}
_LOGICAL: dict[str, IcebergType] = {
    # Avro timestamp-millis is an instant in UTC: Iceberg's timestamptz
    "timestamp-millis": TimestamptzType(),
    "timestamp-micros": TimestamptzType(),
}


class SchemaDerivationError(ValueError):
    """The Avro schema uses a type this derivation does not map."""


def iceberg_type(avro_type: Any) -> IcebergType:
    """The Iceberg type of one Avro field type (nullability is decided by the caller)."""
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        if len(branches) != 1 or len(avro_type) != 2:
            raise SchemaDerivationError(f"only ['null', T] unions map to Iceberg, got {avro_type}")
        return iceberg_type(branches[0])
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical in _LOGICAL:
            return _LOGICAL[logical]
        return iceberg_type(avro_type["type"])
    if avro_type in _PRIMITIVES:
        return _PRIMITIVES[avro_type]
    raise SchemaDerivationError(f"no Iceberg mapping for Avro type {avro_type!r}")


def from_avro(record: dict[str, Any], extra: Sequence[tuple[str, IcebergType, str]] = ()) -> Schema:
    """Fields of ``record`` in order, then ``extra`` (name, type, doc), ids from 1.

    Every column is optional: Flink's Iceberg sink refuses to write its (nullable) SQL
    columns into required fields, and required columns cannot be added later. Presence
    is enforced where records are decoded, and checked by the contract tests.
    """
    fields = []
    next_id = 1
    for f in record["fields"]:
        fields.append(NestedField(next_id, f["name"], iceberg_type(f["type"]), required=False, doc=f.get("doc")))
        next_id += 1
    for name, typ, doc in extra:
        fields.append(NestedField(next_id, name, typ, required=False, doc=doc))
        next_id += 1
    return Schema(*fields)
