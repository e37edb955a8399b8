"""The schema registry (real server on the stack): compatibility rules as the platform relies on them."""

import io
import json
import uuid

import fastavro
import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

import schemas
from edge_bridge.schema import ensure_subject
from stack.settings import StackSettings
from udfs import epoch

pytestmark = pytest.mark.integration


def evolved(extra_field: dict[str, object]) -> str:
    doc = schemas.load("sensor_reading")
    doc["fields"].append(extra_field)
    return json.dumps(doc)


def test_subject_is_backward_transitive_and_refuses_an_incompatible_change(stack: StackSettings) -> None:
    client = SchemaRegistryClient({"url": stack.registry_url})
    topic = f"test.{uuid.uuid4().hex[:8]}.raw"
    first = ensure_subject(client, topic)
    assert client.get_compatibility(f"{topic}-value") == "BACKWARD_TRANSITIVE"
    assert ensure_subject(client, topic) == first  # registering the same schema again is a no-op

    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(f"{topic}-value", Schema(evolved({"name": "site_id", "type": "string"}), "AVRO"))
    assert refused.value.http_status_code == 409
    assert "site_id" in refused.value.error_message


def test_a_compatible_change_is_accepted_and_old_data_stays_readable(stack: StackSettings) -> None:
    client = SchemaRegistryClient({"url": stack.registry_url})
    topic = f"test.{uuid.uuid4().hex[:8]}.raw"
    v1_id = ensure_subject(client, topic)
    v2_text = evolved({"name": "quality", "type": "string", "default": "good"})
    v2_id = client.register_schema(f"{topic}-value", Schema(v2_text, "AVRO"))
    assert v2_id != v1_id
    assert client.get_versions(f"{topic}-value") == [1, 2]

    # data written with v1 is read by a v2 consumer (BACKWARD) with the default filled in
    v1 = fastavro.parse_schema(json.loads(client.get_schema(v1_id).schema_str))
    v2 = fastavro.parse_schema(json.loads(client.get_schema(v2_id).schema_str))
    buf = io.BytesIO()
    row = {"msg_id": "m", "turbine_id": "T1", "sensor_id": "s", "sensor_type": "WTUR.W", "event_time": 1,
           "value": 1.0, "edge_id": "e", "batch_id": "b", "received_at": 2}
    fastavro.schemaless_writer(buf, v1, row)
    buf.seek(0)
    assert fastavro.schemaless_reader(buf, v1, v2)["quality"] == "good"

    # and data written with v2 is still read by a consumer that only knows v1
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, v2, {**row, "quality": "suspect"})
    buf.seek(0)
    old_view = fastavro.schemaless_reader(buf, v2, v1)
    assert "quality" not in old_view
    assert {k: v for k, v in old_view.items() if k not in ("event_time", "received_at")} == {
        k: v for k, v in row.items() if k not in ("event_time", "received_at")
    }
    assert epoch.millis(old_view["event_time"]) == row["event_time"]


def test_unknown_schema_id_is_a_404(stack: StackSettings) -> None:
    r = httpx.get(f"{stack.registry_url}/schemas/ids/987654321")
    assert r.status_code == 404 and r.json()["error_code"] == 40403
