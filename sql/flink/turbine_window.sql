-- Event-time tumbling window per turbine and channel, loaded once per size (1 and 10 minutes).
-- Statistics as defined in udfs/windows.py: population stddev, linear percentiles,
-- coverage = count / (window length / sampling interval); version = readings in the row.
-- Window bounds are TIMESTAMP(3) in UTC (table.local-time-zone).
-- Percentiles: the window keeps its values with ARRAY_AGG (a list in RocksDB: one append per reading, no
-- read) and WINDOW_PERCENTILES (udfs.windows.percentiles, a Python function the job registers) sorts them
-- once when the window fires. Flink's PERCENTILE keeps a map of value to count instead, read and written
-- per reading: the bench measured it at about 40 % of the JVM's time per reading (README, the ceiling).
CREATE TEMPORARY VIEW ${view} AS
SELECT turbine_id, sensor_id, sensor_type, site_id, window_start, window_end, sample_count, avg_value, min_value,
       max_value, stddev_value, pct[1] AS p50, pct[2] AS p95, pct[3] AS p99, coverage, version
FROM (
  SELECT turbine_id, sensor_id, MAX(sensor_type) AS sensor_type, MAX(site_id) AS site_id, window_start, window_end,
         COUNT(*) AS sample_count, AVG(`value`) AS avg_value, MIN(`value`) AS min_value, MAX(`value`) AS max_value,
         STDDEV_POP(`value`) AS stddev_value, WINDOW_PERCENTILES(ARRAY_AGG(`value`)) AS pct,
         CAST(COUNT(*) AS DOUBLE) * ${sample_interval_ms} / (${window_minutes} * 60000) AS coverage, COUNT(*) AS version
  FROM TABLE(TUMBLE(TABLE ontime_readings, DESCRIPTOR(rowtime), INTERVAL '${window_minutes}' MINUTE))
  GROUP BY turbine_id, sensor_id, window_start, window_end
);
