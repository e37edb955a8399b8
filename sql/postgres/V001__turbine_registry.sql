-- The turbine registry: sites, turbine models with their power curves, turbines, and the
-- edge gateway each turbine is registered to (the bridge authorizes by it).
CREATE TABLE IF NOT EXISTS sites (
    site_id     text PRIMARY KEY,
    name        text NOT NULL,
    region      text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS turbine_models (
    model             text PRIMARY KEY,
    rated_kw          double precision NOT NULL CHECK (rated_kw > 0),
    rotor_diameter_m  double precision NOT NULL,
    cut_in_ms         double precision NOT NULL,
    rated_ms          double precision NOT NULL,
    cut_out_ms        double precision NOT NULL,
    -- [[wind m/s, power kW], ...] at standard air density 1.225 kg/m3
    power_curve       jsonb NOT NULL
);

CREATE TABLE IF NOT EXISTS turbines (
    turbine_id  text PRIMARY KEY,
    site_id     text NOT NULL REFERENCES sites (site_id),
    model       text NOT NULL REFERENCES turbine_models (model),
    rated_kw    double precision NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    protected   boolean NOT NULL DEFAULT false,
    priority    smallint NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
    edge_id     text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS turbines_by_edge ON turbines (edge_id);
CREATE INDEX IF NOT EXISTS turbines_by_site ON turbines (site_id);
