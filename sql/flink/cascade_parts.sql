-- The cascade window plan (pipeline.create_windows): event-time minute per turbine and channel, the one window
-- computed from the readings themselves. Its rows make the 1-minute rows (cascade_turbine_1m.sql) and are the
-- parts the coarser windows are made of (cascade_turbine_10m.sql, cascade_site_1h.sql): each keeps
-- what the statistics of a union of minutes need (count, sum, sum of squares, min, max, and the values), so
-- the 10-minute and site-hour windows add up one row per turbine, channel and minute instead of every reading.
-- Percentiles: the minute keeps its values with ARRAY_AGG and WINDOW_PERCENTILES (udfs.windows.percentiles,
-- a Python function the job registers) sorts them once per window row. ARRAY_AGG's accumulator is one
-- serialized list, read, grown and written back whole each time the window's buffer flushes into RocksDB (at
-- every checkpoint, and when the watermark passes a window's end): a minute's list stays short, where the
-- site hour's, fed every reading, grew all hour. The windows made of the parts get one row per turbine,
-- channel and minute, once a minute. JSON_ARRAYAGG (RocksDB list state) drained slower (0.83 times; README,
-- the stream job). Flink's PERCENTILE keeps a map of value to count
-- instead, read and written per reading: about 40 % of the JVM's time per reading.
-- Window bounds are TIMESTAMP(3) in UTC (table.local-time-zone), named apart from the bounds of the windows
-- made of the parts; minute_time (the minute's last millisecond) is the parts' rowtime.
CREATE TEMPORARY VIEW turbine_parts_1m_window AS
SELECT turbine_id, sensor_id, MAX(sensor_type) AS sensor_type, MAX(site_id) AS site_id,
       window_start AS minute_start, window_end AS minute_end, window_time AS minute_time,
       COUNT(*) AS sample_count, SUM(`value`) AS value_sum, SUM(`value` * `value`) AS square_sum,
       MIN(`value`) AS min_value, MAX(`value`) AS max_value, ARRAY_AGG(`value`) AS window_values
FROM TABLE(TUMBLE(TABLE ontime_readings, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE))
GROUP BY turbine_id, sensor_id, window_start, window_end, window_time;
