-- telemetry.raw as raw bytes plus where each record came from. The value is decoded by
-- our own operator, not the avro-confluent format: one poison record must become a dead
-- letter, not a restart loop.
CREATE TEMPORARY TABLE raw_readings (
  `record_key` BYTES,
  `record_value` BYTES,
  `source_topic` STRING METADATA FROM 'topic' VIRTUAL,
  `source_partition` INT METADATA FROM 'partition' VIRTUAL,
  `source_offset` BIGINT METADATA FROM 'offset' VIRTUAL,
  -- the bridge stamps each record with the reading's event time: watermarks are generated
  -- per partition in the source, and an idle partition stops holding them back
  `ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  WATERMARK FOR `ts` AS `ts` - INTERVAL '${watermark_bound_s}' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = '${raw_topic}',
  'properties.bootstrap.servers' = '${bootstrap_servers}',
  'properties.group.id' = '${consumer_group}',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  -- the most bytes fetched from one partition per request: 1 MiB (Kafka's default) with idleness off,
  -- 64 KiB with it on (JobSettings.partition_fetch_bytes says why). The consumer hands over one partition's
  -- fetched records before the next one's, so with an idle timeout a big fetch could keep another partition
  -- waiting its turn long enough to be taken for idle, and its readings came in late
  'properties.max.partition.fetch.bytes' = '${partition_fetch_bytes}',
  'key.format' = 'raw',
  'key.fields' = 'record_key',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY'
);

-- The bridge's heartbeats (edge_bridge/heartbeat.py): empty records keyed '~heartbeat', one a second on
-- each partition that has had no record for 2 s, stamped with the fleet's latest event time. The source
-- has made its per-partition watermarks from their timestamps; past it they are not records. A record
-- without a key is still a record (it may be poison, and becomes a dead letter). Not written as
-- `record_key IS NULL OR record_key <> ...`: Flink 2.0.2's planner keeps the heartbeats with that filter
-- (a VALUES table shows it: the same comparison is FALSE in a projection), and they became dead letters.
CREATE TEMPORARY VIEW raw_records AS
SELECT * FROM raw_readings
WHERE record_key IS DISTINCT FROM CAST('${heartbeat_key}' AS BYTES);
