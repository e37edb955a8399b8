-- Event-time tumbling windows over the new, on-time readings (late ones went to a side
-- output before this point). Window bounds are TIMESTAMP(3) in UTC (table.local-time-zone).
-- Statistics as defined in udfs/windows.py: population stddev, linear percentiles,
-- coverage = count / (window length / sampling interval); version = readings in the row.
CREATE TEMPORARY VIEW turbine_agg_1m AS
SELECT turbine_id, sensor_id, MAX(sensor_type) AS sensor_type, MAX(site_id) AS site_id, window_start, window_end,
       COUNT(*) AS sample_count, AVG(`value`) AS avg_value, MIN(`value`) AS min_value, MAX(`value`) AS max_value,
       STDDEV_POP(`value`) AS stddev_value, PERCENTILE(`value`, 0.5) AS p50, PERCENTILE(`value`, 0.95) AS p95,
       PERCENTILE(`value`, 0.99) AS p99, CAST(COUNT(*) AS DOUBLE) * ${sample_interval_ms} / 60000 AS coverage,
       COUNT(*) AS version
FROM TABLE(TUMBLE(TABLE ontime_readings, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE))
GROUP BY turbine_id, sensor_id, window_start, window_end;

CREATE TEMPORARY VIEW turbine_agg_10m AS
SELECT turbine_id, sensor_id, MAX(sensor_type) AS sensor_type, MAX(site_id) AS site_id, window_start, window_end,
       COUNT(*) AS sample_count, AVG(`value`) AS avg_value, MIN(`value`) AS min_value, MAX(`value`) AS max_value,
       STDDEV_POP(`value`) AS stddev_value, PERCENTILE(`value`, 0.5) AS p50, PERCENTILE(`value`, 0.95) AS p95,
       PERCENTILE(`value`, 0.99) AS p99, CAST(COUNT(*) AS DOUBLE) * ${sample_interval_ms} / 600000 AS coverage,
       COUNT(*) AS version
FROM TABLE(TUMBLE(TABLE ontime_readings, DESCRIPTOR(rowtime), INTERVAL '10' MINUTE))
GROUP BY turbine_id, sensor_id, window_start, window_end;

CREATE TEMPORARY VIEW site_agg_1h AS
SELECT site_id, sensor_type, window_start, window_end, COUNT(DISTINCT turbine_id) AS turbines,
       COUNT(*) AS sample_count, AVG(`value`) AS avg_value, MIN(`value`) AS min_value, MAX(`value`) AS max_value,
       STDDEV_POP(`value`) AS stddev_value, PERCENTILE(`value`, 0.5) AS p50, PERCENTILE(`value`, 0.95) AS p95,
       PERCENTILE(`value`, 0.99) AS p99,
       CAST(COUNT(*) AS DOUBLE) * ${sample_interval_ms} / (3600000.0 * COUNT(DISTINCT turbine_id)) AS coverage,
       COUNT(*) AS version
FROM TABLE(TUMBLE(TABLE ontime_readings, DESCRIPTOR(rowtime), INTERVAL '1' HOUR))
WHERE site_id IS NOT NULL
GROUP BY site_id, sensor_type, window_start, window_end;
