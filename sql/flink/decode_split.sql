-- The vectorized decoder's rows, split: readings (with their enrichment) go on to the msg_id dedupe,
-- dead letters (reason, detail, the raw bytes and where they came from) to telemetry.dlq and wind.rejected.
CREATE TEMPORARY VIEW decoded_readings AS
SELECT msg_id, turbine_id, sensor_id, sensor_type, event_time_ms, `value`, edge_id, batch_id, received_at_ms,
       kafka_partition, kafka_offset, site_id, region, `model`, rated_kw, protected, proc_time
FROM decode_results
WHERE reason_code IS NULL;

CREATE TEMPORARY VIEW rejected_records AS
SELECT reason_code, detail, 'flink-decode' AS stage, raw_value, source_topic, kafka_partition AS source_partition,
       kafka_offset AS source_offset, detected_at_ms
FROM decode_results
WHERE reason_code IS NOT NULL;
