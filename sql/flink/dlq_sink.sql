-- Dead letters from the pipeline: reason, raw bytes (base64 in JSON) and origin.
CREATE TEMPORARY TABLE dlq_sink (
  `reason_code` STRING,
  `detail` STRING,
  `stage` STRING,
  `raw_value` BYTES,
  `source_topic` STRING,
  `source_partition` INT,
  `source_offset` BIGINT,
  `detected_at` TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'kafka',
  'topic' = '${dlq_topic}',
  'properties.bootstrap.servers' = '${bootstrap_servers}',
  'properties.transaction.timeout.ms' = '${transaction_timeout_ms}',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = '${job_name}-dlq',
  'sink.transaction-naming-strategy' = 'POOLING',
  'format' = 'json'
);
