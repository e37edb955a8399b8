-- Lateness, decided once per new reading in the JVM: a reading is late when its 1-minute window
-- (the finest) has fired, that is when the watermark has reached the window's last millisecond
-- (udfs/lateness.py is_late, the same rule). Late readings are kept: wind.readings and
-- wind.late_readings (with the watermark at arrival), never the windows.
-- Safe against silent drops downstream: the windows see this reading after the watermark it was
-- judged against, and their own watermark (the minimum over their inputs) is never ahead of it.
-- Except across idleness: an input of the windows marked idle does not hold their watermark back,
-- and if it turns active again behind the others, what it judged on time may be behind the windows'
-- watermark, which does not go back, and they drop it. Only an idle source makes an idle input, and
-- with the bridge's heartbeats that takes an outage longer than the idle timeout (120 s): at 10 s,
-- four broker kills in `anemos chaos` lost 58 readings this way (README, the chaos runner).
CREATE TEMPORARY VIEW classified_readings AS
SELECT *, CURRENT_WATERMARK(rowtime) AS arrival_watermark,
       CURRENT_WATERMARK(rowtime) IS NOT NULL
         AND TO_TIMESTAMP_LTZ(event_time_ms - MOD(event_time_ms, ${finest_window_ms}) + ${finest_window_ms} - 1, 3)
             <= CURRENT_WATERMARK(rowtime)
         AS is_late
FROM deduped_readings;

CREATE TEMPORARY VIEW ontime_readings AS
SELECT msg_id, turbine_id, sensor_id, sensor_type, event_time_ms, `value`, edge_id, batch_id, received_at_ms,
       kafka_partition, kafka_offset, site_id, region, `model`, rated_kw, protected, rowtime
FROM classified_readings
WHERE NOT is_late;

CREATE TEMPORARY VIEW late_records AS
SELECT msg_id, turbine_id, sensor_id, sensor_type, event_time_ms, `value`, edge_id, batch_id, received_at_ms,
       kafka_partition, kafka_offset, site_id, arrival_watermark
FROM classified_readings
WHERE is_late;
