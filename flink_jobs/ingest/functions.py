"""Process functions of the ingest job; each delegates to udfs/."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from pyflink.common import Row
from pyflink.datastream import OutputTag, ProcessFunction

import schemas
from flink_jobs.ingest.types import REJECTED_ROW
from udfs.records import Reading, Rejection
from udfs.wire import ReadingDecoder

log = logging.getLogger(__name__)

REJECTED = OutputTag("rejected", REJECTED_ROW)


def _is_unknown_schema(err: Exception) -> bool:
    """A registry 404 means the id does not exist: the record's fault, not an outage."""
    return getattr(err, "http_status_code", None) == 404


class DecodeReadings(ProcessFunction):
    """Raw Kafka record -> decoded reading, or a dead letter on the ``rejected`` side output."""

    def __init__(self, registry_url: str) -> None:
        self._registry_url = registry_url
        self._decoder: ReadingDecoder | None = None

    def open(self, runtime_context: Any) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient
        from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential_jitter

        client = SchemaRegistryClient({"url": self._registry_url})

        # registry down: retry (back-pressure) for minutes, then fail the task loudly
        @retry(
            retry=retry_if_exception(lambda err: not _is_unknown_schema(err)),
            wait=wait_exponential_jitter(multiplier=0.2, max=10),
            stop=stop_after_delay(300),
            reraise=True,
        )
        def fetch(schema_id: int) -> str:
            return client.get_schema(schema_id).schema_str

        self._decoder = ReadingDecoder(schemas.load("sensor_reading"), fetch)

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        assert self._decoder is not None
        out = self._decoder.decode(value.record_value, _is_unknown_schema)
        if isinstance(out, Reading):
            yield Row(
                out.msg_id, out.turbine_id, out.sensor_id, out.sensor_type, out.event_time, out.value,
                out.edge_id, out.batch_id, out.received_at, value.source_partition, value.source_offset,
            )
        else:
            yield REJECTED, _dead_letter(out, value)


def _dead_letter(rej: Rejection, value: Row) -> Row:
    return Row(
        rej.reason_code, rej.detail, "flink-decode", value.record_value, value.source_topic,
        value.source_partition, value.source_offset, int(time.time() * 1000),
    )
