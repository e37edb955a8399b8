-- bench.ceiling_job: the decoder's output columns (flink_jobs.ingest.functions.COLUMNS) straight from
-- raw_records (raw_source.sql decoding Avro, see bench/ceiling_job.py), with no enrichment and no dead letter,
-- so the job's own SQL runs on from decode_split.sql.
CREATE TEMPORARY VIEW decode_results AS
SELECT msg_id, turbine_id, sensor_id, sensor_type, event_time AS event_time_ms, `value`, edge_id, batch_id,
       received_at AS received_at_ms, source_partition AS kafka_partition, source_offset AS kafka_offset,
       CAST(NULL AS STRING) AS site_id, CAST(NULL AS STRING) AS region, CAST(NULL AS STRING) AS `model`,
       CAST(NULL AS DOUBLE) AS rated_kw, CAST(NULL AS BOOLEAN) AS protected,
       CAST(NULL AS STRING) AS reason_code, CAST(NULL AS STRING) AS detail, CAST(NULL AS BYTES) AS raw_value,
       source_topic, CAST(NULL AS BIGINT) AS detected_at_ms, proc_time
FROM raw_records;
