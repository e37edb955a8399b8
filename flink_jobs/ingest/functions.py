"""Process functions of the ingest job; each delegates to udfs/."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from pyflink.common import Row
from pyflink.datastream import OutputTag, ProcessFunction

import schemas
from flink_jobs.ingest.registry import RegistryCache
from flink_jobs.ingest.types import ENRICHED_FIELDS, REJECTED_ROW
from udfs.records import Reading, Rejection
from udfs.wire import ReadingDecoder

log = logging.getLogger(__name__)

REJECTED = OutputTag("rejected", REJECTED_ROW)
_COLUMNS = [*ENRICHED_FIELDS, "reason_code", "detail", "raw_value", "source_topic", "detected_at_ms"]
_UNKNOWN = (None,) * 5  # site, region, model, rated power, protected of a turbine the registry does not hold


def _is_unknown_schema(err: Exception) -> bool:
    """A registry 404 means the id does not exist: the record's fault, not an outage."""
    return getattr(err, "http_status_code", None) == 404


class DecodeReadings(ProcessFunction):
    """Raw Kafka record -> decoded reading enriched from the turbine registry (NULLs when the turbine is not
    registered), or a dead letter on the ``rejected`` side output. Enrichment rides on the decoding's own
    crossing into Python: a dictionary lookup per reading, where an operator of its own would cost a crossing."""

    def __init__(self, schema_registry_url: str, dsn: str, registry_refresh_s: float) -> None:
        self._registry_url = schema_registry_url
        self._dsn, self._registry_refresh_s = dsn, registry_refresh_s
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
        self._turbines = RegistryCache(self._dsn, self._registry_refresh_s)

    def decode_one(self, raw: bytes | None, topic: str, partition: int, offset: int) -> tuple[Any, ...]:
        """One record as a row of ``_COLUMNS``: the reading and its enrichment, or the dead letter."""
        assert self._decoder is not None
        out = self._decoder.decode(raw, _is_unknown_schema)
        if isinstance(out, Reading):
            info = self._turbines.get(out.turbine_id)
            return (out.msg_id, out.turbine_id, out.sensor_id, out.sensor_type, out.event_time, out.value, out.edge_id,
                    out.batch_id, out.received_at, partition, offset,
                    *((info.site_id, info.region, info.model.model, info.rated_kw, info.protected) if info else _UNKNOWN),
                    None, None, None, None, None)
        return (*(None,) * 9, partition, offset, *_UNKNOWN, out.reason_code, out.detail, raw, topic, int(time.time() * 1000))

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        assert self._decoder is not None
        out = self._decoder.decode(value.record_value, _is_unknown_schema)
        if isinstance(out, Reading):
            info = self._turbines.get(out.turbine_id)
            yield Row(
                out.msg_id, out.turbine_id, out.sensor_id, out.sensor_type, out.event_time, out.value,
                out.edge_id, out.batch_id, out.received_at, value.source_partition, value.source_offset,
                *((info.site_id, info.region, info.model.model, info.rated_kw, info.protected) if info else _UNKNOWN),
            )
        else:
            yield REJECTED, _dead_letter(out, value)


def _dead_letter(rej: Rejection, value: Row) -> Row:
    return Row(
        rej.reason_code, rej.detail, "flink-decode", value.record_value, value.source_topic,
        value.source_partition, value.source_offset, int(time.time() * 1000),
    )


def _decoded_type() -> Any:
    """The vectorized decoder's row: a reading with its enrichment, or (reason_code set) a dead letter with its bytes."""
    from pyflink.table import DataTypes as T

    reading = [T.STRING(), T.STRING(), T.STRING(), T.STRING(), T.BIGINT(), T.DOUBLE(), T.STRING(), T.STRING(),
               T.BIGINT(), T.INT(), T.BIGINT(), T.STRING(), T.STRING(), T.STRING(), T.DOUBLE(), T.BOOLEAN()]
    extra = [("reason_code", T.STRING()), ("detail", T.STRING()), ("raw_value", T.BYTES()), ("source_topic", T.STRING()),
             ("detected_at_ms", T.BIGINT())]
    return T.ROW([T.FIELD(n, t) for n, t in zip(ENRICHED_FIELDS, reading)] + [T.FIELD(n, t) for n, t in extra])


def decode_batches(schema_registry_url: str, dsn: str, registry_refresh_s: float) -> Any:
    """The decoder as a vectorized (pandas) map: Flink hands over Arrow batches of raw records, so the
    crossing into Python is paid per batch, not per reading. Same decisions as ``DecodeReadings``."""
    import pandas as pd
    from pyflink.table.udf import ScalarFunction, udf

    class DecodeBatch(ScalarFunction):
        def open(self, function_context: Any) -> None:
            self._fn = DecodeReadings(schema_registry_url, dsn, registry_refresh_s)
            self._fn.open(function_context)

        def eval(self, value: "pd.Series", topic: "pd.Series", partition: "pd.Series", offset: "pd.Series") -> "pd.DataFrame":
            return pd.DataFrame.from_records(
                [self._fn.decode_one(v, t, p, o) for v, t, p, o in zip(value, topic, partition, offset)],
                columns=_COLUMNS,
            )

    return udf(DecodeBatch(), result_type=_decoded_type(), func_type="pandas")
