"""The proto, the Avro schema, the Iceberg table and the Flink SQL must describe one record."""

import re
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor
from pyiceberg.types import DoubleType, IntegerType, LongType, StringType, TimestamptzType

import schemas
from edge_bridge.proto import ingest_pb2 as pb
from iceberg.tables import readings

pytestmark = pytest.mark.contract

AVRO = schemas.load("sensor_reading")
AVRO_FIELDS = {f["name"]: f["type"] for f in AVRO["fields"]}

PROTO_TO_AVRO_TYPE = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_INT64: "long",
    FieldDescriptor.TYPE_DOUBLE: "double",
}


def avro_base(t: object) -> str:
    return t["type"] if isinstance(t, dict) else str(t)  # type: ignore[index]


def test_every_proto_field_is_in_the_avro_schema_with_the_same_type() -> None:
    for field in pb.SensorReading.DESCRIPTOR.fields:
        name = schemas.PROTO_TO_AVRO.get(field.name, field.name)
        assert name in AVRO_FIELDS, f"proto field {field.name} has no Avro field {name}"
        assert avro_base(AVRO_FIELDS[name]) == PROTO_TO_AVRO_TYPE[field.type], field.name


def test_every_avro_field_comes_from_the_proto_or_the_bridge() -> None:
    from_proto = {schemas.PROTO_TO_AVRO.get(f.name, f.name) for f in pb.SensorReading.DESCRIPTOR.fields}
    assert set(AVRO_FIELDS) == from_proto | set(schemas.BRIDGE_FIELDS)


def test_iceberg_table_is_the_avro_schema_plus_kafka_origin() -> None:
    iceberg = readings().schema
    names = [f.name for f in iceberg.fields]
    assert names == [*AVRO_FIELDS, "kafka_partition", "kafka_offset"]
    expected = {"string": StringType(), "long": LongType(), "double": DoubleType(), "int": IntegerType()}
    for f in AVRO["fields"]:
        t = f["type"]
        want = TimestamptzType() if isinstance(t, dict) and t.get("logicalType") == "timestamp-millis" else expected[avro_base(t)]
        assert iceberg.find_field(f["name"]).field_type == want, f["name"]


def test_flink_insert_writes_every_iceberg_column_in_order() -> None:
    text = (Path(schemas.HERE).parent / "sql" / "flink" / "insert_readings.sql").read_text()
    listed = re.search(r"INSERT INTO \S+\s*\((.*?)\)\s*SELECT", text, re.S)
    assert listed is not None, "insert_readings.sql must name its target columns"
    cols = [c.strip("` \n") for c in listed.group(1).split(",")]
    assert cols == [f.name for f in readings().schema.fields]


def test_flink_row_type_carries_every_reading_field() -> None:
    from flink_jobs.ingest.functions import DECODED_ROW

    row_names = DECODED_ROW.field_names()
    for name in AVRO_FIELDS:
        assert name in row_names or f"{name}_ms" in row_names, name


def test_generated_grpc_code_is_up_to_date(tmp_path: Path) -> None:
    from edge_bridge.proto.generate import generate

    (tmp_path / "edge_bridge" / "proto").mkdir(parents=True)
    assert generate(tmp_path) == 0
    here = Path(pb.__file__).parent
    for name in ("ingest_pb2.py", "ingest_pb2_grpc.py", "ingest_pb2.pyi", "control_pb2.py", "control_pb2_grpc.py", "control_pb2.pyi"):
        assert (tmp_path / "edge_bridge" / "proto" / name).read_text() == (here / name).read_text(), name
