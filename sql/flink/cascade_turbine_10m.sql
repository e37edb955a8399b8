-- The cascade window plan (pipeline.create_windows): event-time 10 minutes per turbine and channel, made of its
-- 1-minute parts (cascade_parts.sql):
-- one row per minute and channel goes into this window, not every reading. Same statistics as the minute's
-- (udfs/windows.py); the percentiles are of the parts' values put together (WINDOW_PERCENTILES_OF_PARTS).
CREATE TEMPORARY VIEW turbine_agg_10m_window AS
SELECT turbine_id, sensor_id, sensor_type, site_id, window_start, window_end, sample_count, avg_value, min_value,
       max_value, stddev_value, pct[1] AS p50, pct[2] AS p95, pct[3] AS p99, coverage, version
FROM (
  SELECT turbine_id, sensor_id, MAX(sensor_type) AS sensor_type, MAX(site_id) AS site_id, window_start, window_end,
         SUM(sample_count) AS sample_count, SUM(value_sum) / SUM(sample_count) AS avg_value,
         MIN(min_value) AS min_value, MAX(max_value) AS max_value,
         SQRT(GREATEST((SUM(square_sum) - SUM(value_sum) * SUM(value_sum) / SUM(sample_count)) / SUM(sample_count),
                       0.0)) AS stddev_value,
         WINDOW_PERCENTILES_OF_PARTS(ARRAY_AGG(window_values)) AS pct,
         CAST(SUM(sample_count) AS DOUBLE) * ${sample_interval_ms} / 600000.0 AS coverage,
         SUM(sample_count) AS version
  FROM TABLE(TUMBLE(TABLE turbine_parts_1m, DESCRIPTOR(rowtime), INTERVAL '10' MINUTE))
  GROUP BY turbine_id, sensor_id, window_start, window_end
);
