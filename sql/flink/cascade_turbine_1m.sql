-- The cascade window plan (pipeline.create_windows): event-time minute per turbine and channel, its row from its
-- part (cascade_parts.sql; turbine_parts_1m is turbine_parts_1m_window read back once by the job, rowtime =
-- minute_time).
-- Statistics as defined in udfs/windows.py: population stddev, linear percentiles,
-- coverage = count / (window length / sampling interval); version = readings in the row.
-- The averages and the stddev are Flink's own AVG and STDDEV_POP written out (the planner reduces those to
-- these sums), with a variance that rounding made negative taken as 0 (STDDEV_POP would give NaN).
CREATE TEMPORARY VIEW turbine_agg_1m_window AS
SELECT turbine_id, sensor_id, sensor_type, site_id, window_start, window_end, sample_count, avg_value, min_value,
       max_value, stddev_value, pct[1] AS p50, pct[2] AS p95, pct[3] AS p99, coverage, version
FROM (
  SELECT turbine_id, sensor_id, sensor_type, site_id, minute_start AS window_start, minute_end AS window_end,
         sample_count,
         value_sum / sample_count AS avg_value, min_value, max_value,
         SQRT(GREATEST((square_sum - value_sum * value_sum / sample_count) / sample_count, 0.0)) AS stddev_value,
         WINDOW_PERCENTILES(window_values) AS pct,
         CAST(sample_count AS DOUBLE) * ${sample_interval_ms} / 60000 AS coverage, sample_count AS version
  FROM turbine_parts_1m
);
