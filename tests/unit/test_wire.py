import io
import json
import struct

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

import schemas
from udfs.identity import msg_id
from udfs.records import Reading, Rejection
from udfs.wire import ReadingDecoder

pytestmark = pytest.mark.unit

SCHEMA = schemas.load("sensor_reading")


class NotFound(Exception):
    http_status_code = 404


def fetch(schema_id: int) -> str:
    if schema_id == 1:
        return json.dumps(SCHEMA)
    raise NotFound(schema_id)


def is_unknown(err: Exception) -> bool:
    return isinstance(err, NotFound)


def frame(record: dict[str, object], schema_id: int = 1) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(SCHEMA), record)
    return struct.pack(">bI", 0, schema_id) + buf.getvalue()


def record(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "turbine_id": "T1", "sensor_id": "WTUR.W.1", "sensor_type": "WTUR.W", "event_time": 1_700_000_000_000,
        "value": 1234.5, "edge_id": "edge-1", "batch_id": "b1", "received_at": 1_700_000_000_100,
    }
    base.update(overrides)
    base.setdefault("msg_id", msg_id(str(base["turbine_id"]), str(base["sensor_id"]), int(base["event_time"])))  # type: ignore[arg-type]
    return base


def decode(raw: bytes | None) -> Reading | Rejection:
    return ReadingDecoder(SCHEMA, fetch).decode(raw, is_unknown)


def test_round_trip() -> None:
    out = decode(frame(record()))
    assert isinstance(out, Reading)
    assert out.event_time == 1_700_000_000_000 and out.received_at == 1_700_000_000_100 and out.value == 1234.5


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "EMPTY_VALUE"),
        (b"", "EMPTY_VALUE"),
        (b"\x00\x00", "TRUNCATED"),
        (b"\x01\x00\x00\x00\x01abc", "BAD_MAGIC_BYTE"),
        (struct.pack(">bI", 0, 99) + b"abc", "UNKNOWN_SCHEMA_ID"),
        (frame(record())[:-4], "UNDECODABLE_AVRO"),
        (frame(record()) + b"\x00\x01", "TRAILING_BYTES"),
        (frame(record(msg_id="0" * 32)), "MSG_ID_MISMATCH"),
        (frame(record(turbine_id="T1'; DROP TABLE x;--")), "BAD_TURBINE_ID"),
        (frame(record(sensor_type="nope")), "UNKNOWN_SENSOR_TYPE"),
    ],
)
def test_bad_bytes_become_rejections(raw: bytes | None, reason: str) -> None:
    out = decode(raw)
    assert isinstance(out, Rejection) and out.reason_code == reason


def test_registry_outage_raises_instead_of_dead_lettering() -> None:
    def down(_id: int) -> str:
        raise ConnectionError("registry unreachable")

    with pytest.raises(ConnectionError):
        ReadingDecoder(SCHEMA, down).decode(frame(record()), is_unknown)


def test_random_bytes_never_raise() -> None:
    import random

    rng = random.Random(7)
    for _ in range(500):
        raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 60)))
        assert isinstance(decode(raw), (Reading, Rejection))


def test_every_oracle_poison_record_gets_the_reason_the_oracle_expects() -> None:
    """The oracle's D: garbage, hostile identifiers, non-numbers, a forged msg_id, an incompatible writer schema."""
    from reliability import scenario as ref

    def fetch_both(schema_id: int) -> str:
        return json.dumps(ref.INCOMPATIBLE_WRITER) if schema_id == 2 else fetch(schema_id)

    decoder = ReadingDecoder(SCHEMA, fetch_both)
    got = [decoder.decode(raw, is_unknown) for raw in ref.poison(1, 1_700_000_000_000, incompatible_id=2)]
    assert all(isinstance(r, Rejection) for r in got)
    assert sorted(r.reason_code for r in got) == ref.poison_reasons()  # type: ignore[union-attr]


# a later writer schema: one more field, with a default, as registry BACKWARD compatibility allows
EVOLVED = {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": "firmware", "type": ["null", "string"], "default": None}]}
REDOCUMENTED = {**SCHEMA, "doc": "the same shape, other words"}


def fetch_three(schema_id: int) -> str:
    return json.dumps({1: SCHEMA, 2: EVOLVED, 3: REDOCUMENTED}[schema_id])


def frame_as(schema: dict[str, object], schema_id: int, rec: dict[str, object]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), rec)
    return struct.pack(">bI", 0, schema_id) + buf.getvalue()


@given(event_time=st.integers(0, 4_102_444_800_000), lag=st.integers(0, 10**9),
       value=st.floats(0, 20_000, allow_nan=False))
def test_the_reader_shaped_fast_path_and_schema_resolution_decode_alike(event_time: int, lag: int, value: float) -> None:
    """The bridge's own schema is read as written, timestamps as plain longs; another writer goes through
    Avro resolution and its datetimes. Every writer gives the same Reading, to the millisecond."""
    rec = record(event_time=event_time, received_at=event_time + lag, value=value)
    decoder = ReadingDecoder(SCHEMA, fetch_three)
    out = [decoder.decode(frame_as(s, i, {**rec, "firmware": "4.2"}), is_unknown)
           for i, s in ((1, SCHEMA), (2, EVOLVED), (3, REDOCUMENTED))]
    assert isinstance(out[0], Reading)
    assert out[0] == out[1] == out[2]
    assert (out[0].event_time, out[0].received_at, out[0].value) == (event_time, event_time + lag, value)
    assert type(out[0].event_time) is int and type(out[1].received_at) is int


@given(ms=st.integers(-10**13, 10**13))
def test_epoch_millis_is_exact_where_a_float_is_not(ms: int) -> None:
    from datetime import timedelta

    from udfs import epoch

    t = epoch.EPOCH + timedelta(milliseconds=ms)
    assert epoch.millis(t) == ms and epoch.millis(t.replace(tzinfo=None)) == ms
    assert epoch.from_millis(ms) == t
