"""Explicit row types of the ingest job (no pickled rows between operators)."""

from pyflink.common import Types

READING_ROW = Types.ROW_NAMED(
    ["msg_id", "turbine_id", "sensor_id", "sensor_type", "event_time_ms", "value", "edge_id", "batch_id",
     "received_at_ms", "kafka_partition", "kafka_offset"],
    [Types.STRING(), Types.STRING(), Types.STRING(), Types.STRING(), Types.LONG(), Types.DOUBLE(), Types.STRING(),
     Types.STRING(), Types.LONG(), Types.INT(), Types.LONG()],
)

REJECTED_ROW = Types.ROW_NAMED(
    ["reason_code", "detail", "stage", "raw_value", "source_topic", "source_partition", "source_offset", "detected_at_ms"],
    [Types.STRING(), Types.STRING(), Types.STRING(), Types.PRIMITIVE_ARRAY(Types.BYTE()), Types.STRING(), Types.INT(),
     Types.LONG(), Types.LONG()],
)
