"""pipeline.to_internal_stream and to_changelog_stream_of_internal_strings on the local mini-cluster: a table out to
a JVM data stream and back into SQL, as the job does with the decoder's output and the dedupe's to give them their
event-time attribute, without converting every field to a Java object and back.

What could go wrong: the stream still carrying Row objects or Java Strings (the conversions they exist to save), a
field changed on the way (strings, bytes, NULLs), or the event time and the watermarks not coming back with the rows.
"""

from __future__ import annotations

from typing import Any

import pytest
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import Schema, StreamTableEnvironment

from flink_jobs.ingest.pipeline import to_changelog_stream_of_internal_strings, to_internal_stream

pytestmark = pytest.mark.flink

ROWS = [("m1", b"\x00\x01", 61_000, 1.5), ("m2", None, 62_500, None), (None, b"", 125_000, -0.25), ("m\u00e9", b"x", 190_000, 3.0)]


@pytest.fixture(scope="module")
def t_env() -> StreamTableEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    t = StreamTableEnvironment.create(env)
    t.get_config().set("table.local-time-zone", "UTC")
    values = ", ".join(
        f"({'CAST(NULL AS STRING)' if m is None else repr(m)}, {'CAST(NULL AS BYTES)' if b is None else 'X' + repr(b.hex())}, {ms}, "
        f"{'CAST(NULL AS DOUBLE)' if v is None else f'CAST({v} AS DOUBLE)'})" for m, b, ms, v in ROWS)
    t.execute_sql(f"CREATE TEMPORARY VIEW src AS SELECT * FROM (VALUES {values}) AS v(msg_id, raw_value, event_time_ms, val)")
    return t


def test_the_stream_holds_internal_rows(t_env: StreamTableEnvironment) -> None:
    stream = to_internal_stream(t_env, t_env.from_path("src"))
    assert "RowData" in stream._j_data_stream.getType().getTypeClass().getName()


def test_the_changelog_streams_strings_stay_internal() -> None:
    t = StreamTableEnvironment.create(StreamExecutionEnvironment.get_execution_environment())
    t.execute_sql("CREATE TEMPORARY VIEW s AS SELECT * FROM (VALUES ('a', 1)) AS v(msg_id, n)")
    stream = to_changelog_stream_of_internal_strings(t, t.from_path("s"))
    classes = [str(c.getConversionClass().getName()) for c in stream._j_data_stream.getType().getDataType().getChildren()]
    assert classes == ["org.apache.flink.table.data.StringData", "java.lang.Integer"]


@pytest.mark.parametrize("convert", [to_internal_stream, to_changelog_stream_of_internal_strings])
def test_rows_come_back_unchanged_with_their_event_time_and_watermarks(t_env: StreamTableEnvironment, convert: Any) -> None:
    stream = convert(t_env, t_env.from_path("src"))
    schema = (Schema.new_builder().column_by_expression("rowtime", "TO_TIMESTAMP_LTZ(event_time_ms, 3)")
              .watermark("rowtime", "rowtime").build())
    view = f"back_{convert.__name__}"
    t_env.create_temporary_view(view, t_env.from_data_stream(stream, schema))
    with t_env.execute_sql(f"SELECT msg_id, raw_value, event_time_ms, val, UPPER(msg_id) FROM {view}").collect() as results:
        got = [tuple(r) for r in results]
    assert sorted(got, key=lambda r: r[2]) == [(m, None if b is None else bytes(b), ms, v, None if m is None else m.upper())
                                               for m, b, ms, v in ROWS]
    # a window on the event time fires: the rowtime is an event-time attribute again
    with t_env.execute_sql(f"""
            SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE {view}, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE))
            GROUP BY window_start, window_end""").collect() as results:
        counts = sorted((r[0].minute, r[1]) for r in results)
    assert counts == [(1, 2), (2, 1), (3, 1)]
