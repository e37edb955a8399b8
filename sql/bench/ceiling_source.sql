-- bench.ceiling_job: the bridge's records read by the registry's schema in the JVM (Flink's avro-confluent
-- format). The columns are the SensorReading fields, so the reader schema Flink derives from them resolves
-- against the writer's; times as plain longs. A poison record fails this source: the real job's decoder is Python.
CREATE TEMPORARY TABLE raw_avro (
  `record_key` BYTES,
  `msg_id` STRING NOT NULL, `turbine_id` STRING NOT NULL, `sensor_id` STRING NOT NULL,
  `sensor_type` STRING NOT NULL, `event_time` BIGINT NOT NULL, `value` DOUBLE NOT NULL,
  `edge_id` STRING NOT NULL, `batch_id` STRING NOT NULL, `received_at` BIGINT NOT NULL,
  `source_topic` STRING METADATA FROM 'topic' VIRTUAL,
  `source_partition` INT METADATA FROM 'partition' VIRTUAL,
  `source_offset` BIGINT METADATA FROM 'offset' VIRTUAL,
  `ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  `proc_time` AS PROCTIME(),
  WATERMARK FOR `ts` AS `ts` - INTERVAL '${watermark_bound_s}' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = '${raw_topic}',
  'properties.bootstrap.servers' = '${bootstrap_servers}',
  'properties.group.id' = '${consumer_group}',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'properties.max.partition.fetch.bytes' = '${partition_fetch_bytes}',
  'key.format' = 'raw',
  'key.fields' = 'record_key',
  'value.format' = 'avro-confluent',
  'value.avro-confluent.url' = '${registry_url}',
  'value.fields-include' = 'EXCEPT_KEY'
);
