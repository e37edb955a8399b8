-- Window rows to Iceberg and (per turbine) to Kafka; Postgres gets them from the job's Python sink.

INSERT INTO ${catalog_name}.${namespace}.turbine_agg_1m
  (turbine_id, sensor_id, sensor_type, site_id, window_start, window_end, sample_count, avg_value, min_value, max_value, stddev_value, p50, p95, p99, coverage, version)
SELECT turbine_id, sensor_id, sensor_type, site_id, CAST(window_start AS TIMESTAMP_LTZ(3)), CAST(window_end AS TIMESTAMP_LTZ(3)), sample_count, avg_value, min_value, max_value, stddev_value, p50, p95, p99, coverage, version
FROM turbine_agg_1m;

INSERT INTO ${catalog_name}.${namespace}.turbine_agg_10m
  (turbine_id, sensor_id, sensor_type, site_id, window_start, window_end, sample_count, avg_value, min_value, max_value, stddev_value, p50, p95, p99, coverage, version)
SELECT turbine_id, sensor_id, sensor_type, site_id, CAST(window_start AS TIMESTAMP_LTZ(3)), CAST(window_end AS TIMESTAMP_LTZ(3)), sample_count, avg_value, min_value, max_value, stddev_value, p50, p95, p99, coverage, version
FROM turbine_agg_10m;

INSERT INTO ${catalog_name}.${namespace}.site_agg_1h
  (site_id, sensor_type, window_start, window_end, turbines, sample_count, avg_value, min_value, max_value, stddev_value, p50, p95, p99, coverage, version)
SELECT site_id, sensor_type, CAST(window_start AS TIMESTAMP_LTZ(3)), CAST(window_end AS TIMESTAMP_LTZ(3)), turbines, sample_count, avg_value, min_value, max_value, stddev_value, p50, p95, p99, coverage, version
FROM site_agg_1h;

-- one Kafka sink (one transactional-id prefix) for both grains
INSERT INTO aggregates_sink
SELECT '1m', turbine_id, sensor_id, sensor_type, site_id, CAST(window_start AS TIMESTAMP_LTZ(3)), CAST(window_end AS TIMESTAMP_LTZ(3)), sample_count, avg_value, min_value, max_value, stddev_value, p50, p95, p99, coverage, version
FROM turbine_agg_1m
UNION ALL
SELECT '10m', turbine_id, sensor_id, sensor_type, site_id, CAST(window_start AS TIMESTAMP_LTZ(3)), CAST(window_end AS TIMESTAMP_LTZ(3)), sample_count, avg_value, min_value, max_value, stddev_value, p50, p95, p99, coverage, version
FROM turbine_agg_10m;
