-- The per-turbine rules' input: a turbine's on-time readings of one event-time instant, as one row,
-- emitted once the watermark has passed that instant (a 1 ms tumbling window fires at its start).
-- The JVM holds the readings until their moment and hands them over in event-time order per turbine,
-- so the Python operator crosses once per turbine and instant (one reading of every channel), not
-- once per reading, and keeps no pending state or timer of its own for them. A reading that arrives
-- with the watermark already past its instant is not judged (the rules never go back): the window
-- operator counts it in numLateRecordsDropped, and the windows and the raw table still have it.
-- The readings come as three lists in one order (each aggregate appends the same rows in the same order):
-- sensor ids and sensor types joined by commas, which neither can hold (udfs.validation.ID_PATTERN, and
-- the channel names of udfs.channels), and the values as an array. Not an array of rows: PyFlink builds a
-- Python Row object for every nested row it decodes, eight times the cost of an instant of 12 readings
-- (bench.rules_instant); and not arrays of strings, which PyFlink 2.0 cannot hand to a Python DataStream
-- operator (a ClassCastException converting ObjectArrayTypeInfo<String> back to a Java type).
CREATE TEMPORARY VIEW rule_batches AS
SELECT turbine_id, MIN(event_time_ms) AS event_time_ms,
       LISTAGG(sensor_id, ',') AS sensor_ids, LISTAGG(sensor_type, ',') AS sensor_types,
       ARRAY_AGG(`value`) AS sensor_values
FROM TABLE(TUMBLE(TABLE ontime_readings, DESCRIPTOR(rowtime), INTERVAL '0.001' SECOND))
GROUP BY turbine_id, window_start, window_end;
