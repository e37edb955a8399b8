"""Explicit row and state types of the job (no pickled rows or state between operators)."""

from pyflink.common import Types

S, L, D, B = Types.STRING(), Types.LONG(), Types.DOUBLE(), Types.BOOLEAN()

READING_FIELDS = ["msg_id", "turbine_id", "sensor_id", "sensor_type", "event_time_ms", "value", "edge_id", "batch_id",
                  "received_at_ms", "kafka_partition", "kafka_offset"]
# a decoded reading with what the registry says about its turbine (NULLs when unregistered): the decoder's
# output (flink_jobs.ingest.functions.COLUMNS) and the SQL views after it
ENRICHED_FIELDS = READING_FIELDS + ["site_id", "region", "model", "rated_kw", "protected"]

# the hot aggregate rows as the Postgres upserts take them (column order of their INSERT), window bounds as epoch
# milliseconds: the rows waiting for the next flush are keyed state of this type
TURBINE_AGG_COLUMNS = ["turbine_id", "sensor_id", "window_start", "window_end", "sensor_type", "site_id", "sample_count",
                       "avg_value", "min_value", "max_value", "stddev_value", "p50", "p95", "p99", "coverage", "version"]
SITE_AGG_COLUMNS = ["site_id", "sensor_type", "window_start", "window_end", "turbines", "sample_count", "avg_value",
                    "min_value", "max_value", "stddev_value", "p50", "p95", "p99", "coverage", "version"]
_STATS = [D] * 8  # avg, min, max, stddev, p50, p95, p99, coverage
TURBINE_AGG_ROW = Types.ROW_NAMED(TURBINE_AGG_COLUMNS, [S, S, L, L, S, S, L, *_STATS, L])
SITE_AGG_ROW = Types.ROW_NAMED(SITE_AGG_COLUMNS, [S, S, L, L, L, L, *_STATS, L])
HOT_ROWS = {"turbine_agg_1m": TURBINE_AGG_ROW, "turbine_agg_10m": TURBINE_AGG_ROW, "site_agg_1h": SITE_AGG_ROW}

ALERT_ROW = Types.ROW_NAMED(
    ["alert_id", "turbine_id", "site_id", "sensor_id", "rule", "status", "severity", "event_time_ms", "value",
     "evidence", "detected_at_ms"],
    [S, S, S, S, S, S, S, L, D, S, L],
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
# everything the rules keep for one turbine, as one value: at each bundle's end PyFlink writes every changed
# state back to the JVM with one synchronous request each, so one value is one round trip per turbine, not four.
# lkg_staged is always empty since 2026-12-05 (last-known-good goes to Redis at each bundle's end, not from state);
# it stays in the type so that savepoints of earlier versions restore
TURBINE_STATE = Types.ROW_NAMED(
    ["channels", "power", "loss", "lkg_staged"],
    [Types.MAP(S, CHANNEL_STATE), POWER_STATE, LOSS_STATE, Types.MAP(S, LKG_ENTRY)],
)
