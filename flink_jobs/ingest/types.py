"""Explicit row and state types of the job (no pickled rows or state between operators)."""

from pyflink.common import Types

S, L, D, I, B = Types.STRING(), Types.LONG(), Types.DOUBLE(), Types.INT(), Types.BOOLEAN()

READING_FIELDS = ["msg_id", "turbine_id", "sensor_id", "sensor_type", "event_time_ms", "value", "edge_id", "batch_id",
                  "received_at_ms", "kafka_partition", "kafka_offset"]
READING_TYPES = [S, S, S, S, L, D, S, S, L, I, L]
READING_ROW = Types.ROW_NAMED(READING_FIELDS, READING_TYPES)

# a decoded reading with what the registry says about its turbine (NULLs when unregistered)
ENRICHED_FIELDS = READING_FIELDS + ["site_id", "region", "model", "rated_kw", "protected"]
ENRICHED_ROW = Types.ROW_NAMED(ENRICHED_FIELDS, READING_TYPES + [S, S, S, D, B])

ALERT_ROW = Types.ROW_NAMED(
    ["alert_id", "turbine_id", "site_id", "sensor_id", "rule", "status", "severity", "event_time_ms", "value",
     "evidence", "detected_at_ms"],
    [S, S, S, S, S, S, S, L, D, S, L],
)

REJECTED_ROW = Types.ROW_NAMED(
    ["reason_code", "detail", "stage", "raw_value", "source_topic", "source_partition", "source_offset", "detected_at_ms"],
    [S, S, S, Types.PRIMITIVE_ARRAY(Types.BYTE()), S, I, L, L],
)

# keyed state, field for field the frozen records of udfs.anomaly
CHANNEL_STATE = Types.ROW_NAMED(
    ["n", "mean", "var", "last_value", "unchanged_since", "last_event_time", "zscore_open", "frozen_open"],
    [L, D, D, D, L, L, B, B],
)
POWER_STATE = Types.ROW_NAMED(
    ["wind_ms", "wind_time", "air_density", "streak", "open", "last_event_time"], [D, L, D, L, B, L]
)
LOSS_STATE = Types.ROW_NAMED(["last_event_time", "open"], [L, B])
LKG_ENTRY = Types.ROW_NAMED(["value", "event_time_ms"], [D, L])
