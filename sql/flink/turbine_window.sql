-- Event-time tumbling window per turbine and channel, loaded once per size (1 and 10 minutes).
-- Statistics as defined in udfs/windows.py: population stddev, linear percentiles,
-- coverage = count / (window length / sampling interval); version = readings in the row.
-- Window bounds are TIMESTAMP(3) in UTC (table.local-time-zone).
-- Percentiles: the window keeps its values with ARRAY_AGG and WINDOW_PERCENTILES (udfs.windows.percentiles,
-- a Python function the job registers) sorts them once when the window fires. ARRAY_AGG's accumulator is one
-- serialized list: each time the window's buffer flushes into RocksDB (at every checkpoint, and when the
-- watermark passes a window's end) the list is read, grows by what the buffer holds and is written back
-- whole. JSON_ARRAYAGG, whose list lives in RocksDB list state (a merge per reading, no read), drained
-- slower (0.83 times, branch experiment/json-arrayagg; README, the stream job). Flink's PERCENTILE keeps a
-- map of value to count instead, read and written per reading: about 40 % of the JVM's time per reading.
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
