-- Readings whose 1-minute window had already fired: kept, never dropped.
INSERT INTO ${catalog_name}.${namespace}.late_readings
  (msg_id, turbine_id, sensor_id, sensor_type, event_time, `value`, edge_id, batch_id, received_at,
   kafka_partition, kafka_offset, site_id, arrival_watermark)
SELECT
  msg_id, turbine_id, sensor_id, sensor_type, TO_TIMESTAMP_LTZ(event_time_ms, 3), `value`, edge_id, batch_id,
  TO_TIMESTAMP_LTZ(received_at_ms, 3), kafka_partition, kafka_offset, site_id, arrival_watermark
FROM late_records;
