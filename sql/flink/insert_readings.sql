-- Decoded readings into the raw Iceberg table; committed on each checkpoint (v1 FlinkSink).
-- The column list is checked against the Iceberg schema by tests/contract.
INSERT INTO ${catalog_name}.${readings_table}
  (msg_id, turbine_id, sensor_id, sensor_type, event_time, `value`, edge_id, batch_id, received_at,
   kafka_partition, kafka_offset)
SELECT
  msg_id, turbine_id, sensor_id, sensor_type,
  TO_TIMESTAMP_LTZ(event_time_ms, 3),
  `value`, edge_id, batch_id,
  TO_TIMESTAMP_LTZ(received_at_ms, 3),
  kafka_partition, kafka_offset
FROM decoded_readings;
