-- The per-turbine rules' input: a turbine's on-time readings of one event-time instant, as one row,
-- emitted once the watermark has passed that instant (a 1 ms tumbling window fires at its start).
-- The JVM holds the readings until their moment and hands them over in event-time order per turbine,
-- so the Python operator crosses once per turbine and instant (one reading of every channel), not
-- once per reading, and keeps no pending state or timer of its own for them. A reading that arrives
-- with the watermark already past its instant is not judged (the rules never go back): the window
-- operator counts it in numLateRecordsDropped, and the windows and the raw table still have it.
CREATE TEMPORARY VIEW rule_batches AS
SELECT turbine_id, MIN(event_time_ms) AS event_time_ms,
       ARRAY_AGG(ROW(sensor_id, sensor_type, `value`)) AS readings
FROM TABLE(TUMBLE(TABLE ontime_readings, DESCRIPTOR(rowtime), INTERVAL '0.001' SECOND))
GROUP BY turbine_id, window_start, window_end;
