-- Every new reading, on time or late, into the raw Iceberg table; committed on each
-- checkpoint (v1 FlinkSink). The column list is checked against the Iceberg schema by tests/contract.
INSERT INTO ${catalog_name}.${namespace}.readings
  (msg_id, turbine_id, sensor_id, sensor_type, event_time, `value`, edge_id, batch_id, received_at,
   kafka_partition, kafka_offset)
SELECT
  msg_id, turbine_id, sensor_id, sensor_type,
  TO_TIMESTAMP_LTZ(event_time_ms, 3),
  `value`, edge_id, batch_id,
  TO_TIMESTAMP_LTZ(received_at_ms, 3),
  kafka_partition, kafka_offset
FROM (
  SELECT msg_id, turbine_id, sensor_id, sensor_type, event_time_ms, `value`, edge_id, batch_id, received_at_ms,
         kafka_partition, kafka_offset FROM ontime_readings
  UNION ALL
  SELECT msg_id, turbine_id, sensor_id, sensor_type, event_time_ms, `value`, edge_id, batch_id, received_at_ms,
         kafka_partition, kafka_offset FROM late_records
);
