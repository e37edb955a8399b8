"""The ingest job's decoder: raw Kafka records to enriched readings or dead letters; the decisions are udfs/'."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pyflink.table import DataTypes as T
from pyflink.table.udf import ScalarFunction, UserDefinedScalarFunctionWrapper, udf

import schemas
from flink_jobs.ingest.registry import RegistryCache
from flink_jobs.ingest.types import ENRICHED_FIELDS
from udfs.records import Reading
from udfs.wire import ReadingDecoder
from udfs.windows import percentiles, percentiles_of_parts

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

# a reading with its enrichment, or (reason_code set) a dead letter with its bytes and detection time
COLUMNS = [*ENRICHED_FIELDS, "reason_code", "detail", "raw_value", "source_topic", "detected_at_ms"]
_TYPES = [T.STRING(), T.STRING(), T.STRING(), T.STRING(), T.BIGINT(), T.DOUBLE(), T.STRING(), T.STRING(), T.BIGINT(),
          T.INT(), T.BIGINT(), T.STRING(), T.STRING(), T.STRING(), T.DOUBLE(), T.BOOLEAN(),
          T.STRING(), T.STRING(), T.BYTES(), T.STRING(), T.BIGINT()]
DECODED_ROW = T.ROW([T.FIELD(name, kind) for name, kind in zip(COLUMNS, _TYPES, strict=True)])
_UNKNOWN = (None,) * 5  # site, region, model, rated power, protected of a turbine the registry does not hold
_NO_LETTER = (None,) * 5


def _is_unknown_schema(err: Exception) -> bool:
    """A registry 404 means the id does not exist: the record's fault, not an outage."""
    return getattr(err, "http_status_code", None) == 404


class DecodeBatch(ScalarFunction):
    """Vectorized (pandas): Flink hands over Arrow batches of raw records, so the crossing into Python is
    paid per batch, not per reading. Each record becomes a row of ``COLUMNS``: the reading enriched from the
    turbine registry (NULLs when the turbine is not registered), or a dead letter. Enrichment rides on the
    decoding's own crossing: a dictionary lookup per reading, where an operator of its own would cost one."""

    def __init__(self, schema_registry_url: str, dsn: str, registry_refresh_s: float) -> None:
        self._registry_url = schema_registry_url
        self._dsn, self._registry_refresh_s = dsn, registry_refresh_s

    def open(self, function_context: Any) -> None:
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
        out = self._decoder.decode(raw, _is_unknown_schema)
        if isinstance(out, Reading):
            info = self._turbines.get(out.turbine_id)
            return (out.msg_id, out.turbine_id, out.sensor_id, out.sensor_type, out.event_time, out.value, out.edge_id,
                    out.batch_id, out.received_at, partition, offset,
                    *((info.site_id, info.region, info.model.model, info.rated_kw, info.protected) if info else _UNKNOWN),
                    *_NO_LETTER)
        return (*(None,) * 9, partition, offset, *_UNKNOWN, out.reason_code, out.detail, raw, topic, int(time.time() * 1000))

    def eval(self, value: pd.Series, topic: pd.Series, partition: pd.Series, offset: pd.Series) -> pd.DataFrame:
        import pandas as pd

        rows = [self.decode_one(v, t, p, o) for v, t, p, o in zip(value, topic, partition, offset)]
        return pd.DataFrame.from_records(rows, columns=COLUMNS)


def decode_batches(schema_registry_url: str, dsn: str, registry_refresh_s: float) -> UserDefinedScalarFunctionWrapper:
    """The decoder as a pandas UDF for ``Table.map``: (record_value, source_topic, source_partition, source_offset)."""
    return udf(DecodeBatch(schema_registry_url, dsn, registry_refresh_s), result_type=DECODED_ROW, func_type="pandas")


# the windows' percentiles, once per window row from its values (sql/flink/turbine_window.sql, site_window.sql,
# cascade_turbine_1m.sql), or from the values of the 1-minute parts it is made of (cascade_turbine_10m.sql,
# cascade_site_1h.sql)
PERCENTILES_FUNCTION = "WINDOW_PERCENTILES"
PARTS_PERCENTILES_FUNCTION = "WINDOW_PERCENTILES_OF_PARTS"


def window_percentiles() -> UserDefinedScalarFunctionWrapper:
    """udfs.windows.percentiles as a row-at-a-time SQL function: ARRAY<DOUBLE> of a window's values -> [p50, p95, p99].
    Called once per window row (hundreds a minute), so a vectorized form would buy nothing.

    Declared non-deterministic only so that the planner keeps one call per row: it merges the projection of
    ``pct[1]``, ``pct[2]``, ``pct[3]`` into the call's own and would otherwise sort every window three times
    (a deterministic call may be repeated, a non-deterministic one is never duplicated)."""
    return udf(percentiles, input_types=[T.ARRAY(T.DOUBLE())], result_type=T.ARRAY(T.DOUBLE()),
               deterministic=False, name=PERCENTILES_FUNCTION)


def window_percentiles_of_parts() -> UserDefinedScalarFunctionWrapper:
    """udfs.windows.percentiles_of_parts as a SQL function, as ``window_percentiles`` (and non-deterministic for the
    same reason): ARRAY<ARRAY<DOUBLE>>, the values of each part of a window, -> [p50, p95, p99] of them all."""
    return udf(percentiles_of_parts, input_types=[T.ARRAY(T.ARRAY(T.DOUBLE()))], result_type=T.ARRAY(T.DOUBLE()),
               deterministic=False, name=PARTS_PERCENTILES_FUNCTION)
