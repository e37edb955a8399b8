-- Alert transitions to Iceberg (history for analysts) and Kafka (subscribers).
INSERT INTO ${catalog_name}.${namespace}.alerts
  (alert_id, turbine_id, site_id, sensor_id, rule, status, severity, event_time, `value`, evidence, detected_at)
SELECT alert_id, turbine_id, site_id, sensor_id, rule, status, severity, TO_TIMESTAMP_LTZ(event_time_ms, 3), `value`,
       evidence, TO_TIMESTAMP_LTZ(detected_at_ms, 3)
FROM alert_records;

INSERT INTO alerts_sink
SELECT alert_id, turbine_id, site_id, sensor_id, rule, status, severity, TO_TIMESTAMP_LTZ(event_time_ms, 3), `value`,
       evidence, TO_TIMESTAMP_LTZ(detected_at_ms, 3)
FROM alert_records;
