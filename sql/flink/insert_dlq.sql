INSERT INTO dlq_sink
SELECT reason_code, detail, stage, raw_value, source_topic, source_partition, source_offset,
       TO_TIMESTAMP_LTZ(detected_at_ms, 3)
FROM rejected_records;

INSERT INTO ${catalog_name}.${namespace}.rejected
  (reason_code, detail, stage, raw_value, source_topic, source_partition, source_offset, detected_at)
SELECT reason_code, detail, stage, raw_value, source_topic, source_partition, source_offset,
       TO_TIMESTAMP_LTZ(detected_at_ms, 3)
FROM rejected_records;
