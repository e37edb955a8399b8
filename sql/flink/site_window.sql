-- Event-time hour per site and channel over the new, on-time readings of its turbines
-- (late ones went to a side output before this point). Same statistics as turbine_window.sql;
-- coverage is against every reporting turbine's expected samples.
CREATE TEMPORARY VIEW site_agg_1h_window AS
SELECT site_id, sensor_type, window_start, window_end, turbines, sample_count, avg_value, min_value, max_value,
       stddev_value, pct[1] AS p50, pct[2] AS p95, pct[3] AS p99, coverage, version
FROM (
  SELECT site_id, sensor_type, window_start, window_end, COUNT(DISTINCT turbine_id) AS turbines,
         COUNT(*) AS sample_count, AVG(`value`) AS avg_value, MIN(`value`) AS min_value, MAX(`value`) AS max_value,
         STDDEV_POP(`value`) AS stddev_value, WINDOW_PERCENTILES(ARRAY_AGG(`value`)) AS pct,
         CAST(COUNT(*) AS DOUBLE) * ${sample_interval_ms} / (3600000.0 * COUNT(DISTINCT turbine_id)) AS coverage,
         COUNT(*) AS version
  FROM TABLE(TUMBLE(TABLE ontime_readings, DESCRIPTOR(rowtime), INTERVAL '1' HOUR))
  WHERE site_id IS NOT NULL
  GROUP BY site_id, sensor_type, window_start, window_end
);
