-- Keep the first arrival of each msg_id (re-sent batches, producer retries). Flink runs this
-- as its deduplication operator: keyed state per msg_id in RocksDB, expired after
-- table.exec.state.ttl (the job's dedupe_ttl_ms, at least the edge's retry horizon).
CREATE TEMPORARY VIEW new_readings AS
SELECT msg_id, turbine_id, sensor_id, sensor_type, event_time_ms, `value`, edge_id, batch_id, received_at_ms,
       kafka_partition, kafka_offset, site_id, region, `model`, rated_kw, protected
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY msg_id ORDER BY proc_time ASC) AS arrival
  FROM decoded_readings
)
WHERE arrival = 1;
