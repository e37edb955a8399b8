-- Alert lifecycle, webhook deliveries, the freeze record, and the command gate's book and audit.

-- One row per alert episode: raised, maybe acknowledged by a person, then cleared.
-- An episode is (turbine, sensor, rule) from a RAISED transition to the next CLEARED one.
CREATE TABLE IF NOT EXISTS alert_lifecycle (
    raised_alert_id   text PRIMARY KEY,
    turbine_id        text NOT NULL,
    site_id           text,
    sensor_id         text NOT NULL,
    rule              text NOT NULL,
    severity          text NOT NULL,
    raised_at         timestamptz NOT NULL,          -- event time of the RAISED transition
    raised_value      double precision,
    evidence          text NOT NULL,
    acknowledged_by   text,
    acknowledged_at   timestamptz,
    ack_note          text,
    cleared_alert_id  text UNIQUE,
    cleared_at        timestamptz,                    -- event time of the CLEARED transition
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS alert_lifecycle_open ON alert_lifecycle (turbine_id, sensor_id, rule) WHERE cleared_at IS NULL;

-- Each webhook delivery attempt series: delivered, or dead-lettered after the retries ran out.
CREATE TABLE IF NOT EXISTS alert_deliveries (
    alert_id      text NOT NULL,
    endpoint      text NOT NULL,
    status        text NOT NULL CHECK (status IN ('DELIVERED', 'DEAD_LETTER')),
    attempts      integer NOT NULL,
    http_status   integer,
    last_error    text,
    payload       jsonb NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, endpoint)
);

-- Every freeze and thaw the monitor decided, in order.
CREATE TABLE IF NOT EXISTS freeze_events (
    id          bigserial PRIMARY KEY,
    scope       text NOT NULL,                        -- all, site:<id>, turbine:<id>
    kind        text NOT NULL CHECK (kind IN ('FROZEN', 'THAWED')),
    reason      text NOT NULL,
    detail      text NOT NULL,
    since       timestamptz NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS freeze_events_by_scope ON freeze_events (scope, at);

-- The gate's book of commands: their current state (pending approvals live here).
CREATE TABLE IF NOT EXISTS commands (
    command_id     text PRIMARY KEY,
    target         text NOT NULL,                     -- turbine:<id> or site:<id>
    command        text NOT NULL CHECK (command IN ('STOP', 'CURTAIL', 'START', 'RESET')),
    setpoint       double precision,
    requested_by   text NOT NULL,
    reason         text NOT NULL,
    status         text NOT NULL CHECK (status IN ('PENDING_APPROVAL', 'ACCEPTED', 'REFUSED', 'EXPIRED', 'EXECUTED')),
    decision       text NOT NULL,
    approved_by    text,
    turbines       text[] NOT NULL DEFAULT '{}',
    excluded       text[] NOT NULL DEFAULT '{}',
    requested_at   timestamptz NOT NULL,
    decided_at     timestamptz NOT NULL
);

-- Append-only audit: every request, decision, approval and execution report.
CREATE TABLE IF NOT EXISTS command_audit (
    id          bigserial PRIMARY KEY,
    command_id  text NOT NULL,
    event       text NOT NULL,                         -- REQUESTED, ACCEPTED, REFUSED, PENDING_APPROVAL, APPROVAL_REFUSED, EXECUTED, ...
    actor       text NOT NULL,
    detail      jsonb NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS command_audit_by_command ON command_audit (command_id, id);
