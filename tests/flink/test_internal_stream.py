"""pipeline.to_internal_stream on the local mini-cluster: a table out to a JVM data stream of Flink's internal rows
and back into SQL, as the job does with the decoder's output to give it its event-time attribute.

What could go wrong: the stream still carrying Row objects (the conversion it exists to save), a field changed on
the way (strings, bytes, NULLs), or the event time and the source's watermarks not coming back with the rows.
"""

from __future__ import annotations

import pytest
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import Schema, StreamTableEnvironment

from flink_jobs.ingest.pipeline import to_internal_stream

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


def test_rows_come_back_unchanged_with_their_event_time_and_watermarks(t_env: StreamTableEnvironment) -> None:
    stream = to_internal_stream(t_env, t_env.from_path("src"))
    schema = (Schema.new_builder().column_by_expression("rowtime", "TO_TIMESTAMP_LTZ(event_time_ms, 3)")
              .watermark("rowtime", "rowtime").build())
    t_env.create_temporary_view("back", t_env.from_data_stream(stream, schema))
    with t_env.execute_sql("SELECT msg_id, raw_value, event_time_ms, val FROM back").collect() as results:
        got = [tuple(r) for r in results]
    assert sorted(got, key=lambda r: r[2]) == [(m, None if b is None else bytes(b), ms, v) for m, b, ms, v in ROWS]
    # a window on the event time fires: the rowtime is an event-time attribute again
    with t_env.execute_sql("""
            SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE back, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE))
            GROUP BY window_start, window_end""").collect() as results:
        counts = sorted((r[0].minute, r[1]) for r in results)
    assert counts == [(1, 2), (2, 1), (3, 1)]
