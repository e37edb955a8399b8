-- Kafka outputs of the job, transactional (exactly-once): subscribers read with
-- isolation.level=read_committed and see each window row and alert transition once.
-- POOLING transaction names (FLINK-34554, connector 4.0): each writer reuses a few
-- transactional ids instead of opening one per checkpoint (INCREMENTING, the default),
-- which the broker would keep for transactional.id.expiration.ms (7 days): at one
-- checkpoint a second, three sinks leave some 260,000 ids a day. dlq_sink.sql does the same.
CREATE TEMPORARY TABLE aggregates_sink (
  `grain` STRING,
  `turbine_id` STRING,
  `sensor_id` STRING,
  `sensor_type` STRING,
  `site_id` STRING,
  `window_start` TIMESTAMP_LTZ(3),
  `window_end` TIMESTAMP_LTZ(3),
  `sample_count` BIGINT,
  `avg_value` DOUBLE,
  `min_value` DOUBLE,
  `max_value` DOUBLE,
  `stddev_value` DOUBLE,
  `p50` DOUBLE,
  `p95` DOUBLE,
  `p99` DOUBLE,
  `coverage` DOUBLE,
  `version` BIGINT
) WITH (
  'connector' = 'kafka',
  'topic' = '${aggregates_topic}',
  'properties.bootstrap.servers' = '${bootstrap_servers}',
  'properties.transaction.timeout.ms' = '${transaction_timeout_ms}',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = '${job_name}-aggregates',
  'sink.transaction-naming-strategy' = 'POOLING',
  'key.format' = 'raw',
  'key.fields' = 'turbine_id',
  'value.format' = 'json',
  'value.fields-include' = 'ALL'
);

CREATE TEMPORARY TABLE alerts_sink (
  `alert_id` STRING,
  `turbine_id` STRING,
  `site_id` STRING,
  `sensor_id` STRING,
  `rule` STRING,
  `status` STRING,
  `severity` STRING,
  `event_time` TIMESTAMP_LTZ(3),
  `value` DOUBLE,
  `evidence` STRING,
  `detected_at` TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'kafka',
  'topic' = '${alerts_topic}',
  'properties.bootstrap.servers' = '${bootstrap_servers}',
  'properties.transaction.timeout.ms' = '${transaction_timeout_ms}',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = '${job_name}-alerts',
  'sink.transaction-naming-strategy' = 'POOLING',
  'key.format' = 'raw',
  'key.fields' = 'turbine_id',
  'value.format' = 'json',
  'value.fields-include' = 'ALL'
);
