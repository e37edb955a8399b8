-- The cascade window plan (pipeline.create_windows): event-time hour per site and channel over the on-time
-- readings of its turbines (late ones went to a side output before this point), made of the turbines' 1-minute
-- parts (cascade_parts.sql): one row per turbine,
-- channel and minute goes into this window, not every reading. A turbine's minute counts to the site the
-- registry gave its readings in that minute (the greatest id, should it have moved within the minute).
-- Same statistics as site_window.sql (the direct plan); coverage is against every reporting turbine's expected samples.
CREATE TEMPORARY VIEW site_agg_1h_window AS
SELECT site_id, sensor_type, window_start, window_end, turbines, sample_count, avg_value, min_value, max_value,
       stddev_value, pct[1] AS p50, pct[2] AS p95, pct[3] AS p99, coverage, version
FROM (
  SELECT site_id, sensor_type, window_start, window_end, COUNT(DISTINCT turbine_id) AS turbines,
         SUM(sample_count) AS sample_count, SUM(value_sum) / SUM(sample_count) AS avg_value,
         MIN(min_value) AS min_value, MAX(max_value) AS max_value,
         SQRT(GREATEST((SUM(square_sum) - SUM(value_sum) * SUM(value_sum) / SUM(sample_count)) / SUM(sample_count),
                       0.0)) AS stddev_value,
         WINDOW_PERCENTILES_OF_PARTS(ARRAY_AGG(window_values)) AS pct,
         CAST(SUM(sample_count) AS DOUBLE) * ${sample_interval_ms} / (3600000.0 * COUNT(DISTINCT turbine_id))
           AS coverage,
         SUM(sample_count) AS version
  FROM TABLE(TUMBLE(TABLE turbine_parts_1m, DESCRIPTOR(rowtime), INTERVAL '1' HOUR))
  WHERE site_id IS NOT NULL
  GROUP BY site_id, sensor_type, window_start, window_end
);
