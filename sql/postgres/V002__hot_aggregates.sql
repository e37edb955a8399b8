-- Hot aggregates for dashboards and the control room: recent windows only (the job deletes
-- rows past its retention), upserted by the stream job. `version` is the number of readings
-- the row was computed from: a replay writes the same version, a restatement a higher one,
-- and the upsert's guard (WHERE version <= excluded.version) never lets a row go back.
CREATE TABLE IF NOT EXISTS turbine_agg_1m (
    turbine_id    text NOT NULL,
    sensor_id     text NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    sensor_type   text NOT NULL,
    site_id       text,
    sample_count  bigint NOT NULL,
    avg_value     double precision NOT NULL,
    min_value     double precision NOT NULL,
    max_value     double precision NOT NULL,
    stddev_value  double precision NOT NULL,
    p50           double precision NOT NULL,
    p95           double precision NOT NULL,
    p99           double precision NOT NULL,
    coverage      double precision NOT NULL,
    version       bigint NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (turbine_id, sensor_id, window_start)
);

CREATE TABLE IF NOT EXISTS turbine_agg_10m (LIKE turbine_agg_1m INCLUDING ALL);

CREATE TABLE IF NOT EXISTS site_agg_1h (
    site_id       text NOT NULL,
    sensor_type   text NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    turbines      bigint NOT NULL,
    sample_count  bigint NOT NULL,
    avg_value     double precision NOT NULL,
    min_value     double precision NOT NULL,
    max_value     double precision NOT NULL,
    stddev_value  double precision NOT NULL,
    p50           double precision NOT NULL,
    p95           double precision NOT NULL,
    p99           double precision NOT NULL,
    coverage      double precision NOT NULL,
    version       bigint NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, sensor_type, window_start)
);

CREATE INDEX IF NOT EXISTS turbine_agg_1m_by_end ON turbine_agg_1m (window_end);
CREATE INDEX IF NOT EXISTS turbine_agg_10m_by_end ON turbine_agg_10m (window_end);
CREATE INDEX IF NOT EXISTS site_agg_1h_by_end ON site_agg_1h (window_end);
