-- bench.ceiling_job --shape source: Kafka to wind.readings and nothing else.
INSERT INTO ${catalog_name}.${namespace}.readings
  (msg_id, turbine_id, sensor_id, sensor_type, event_time, `value`, edge_id, batch_id, received_at,
   kafka_partition, kafka_offset)
SELECT msg_id, turbine_id, sensor_id, sensor_type, TO_TIMESTAMP_LTZ(event_time, 3), `value`, edge_id, batch_id,
       TO_TIMESTAMP_LTZ(received_at, 3), source_partition, source_offset
FROM raw_records;
