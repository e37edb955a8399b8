"""Each alert episode in Postgres: raised, acknowledged by a person, cleared. Every write is idempotent."""

from __future__ import annotations

from typing import Any

import psycopg

from alerting import AlertingError
from alerting.records import AlertRecord


class UnknownAlertError(AlertingError):
    """No raised alert has this id."""


def record(conn: psycopg.Connection[Any], a: AlertRecord) -> str:
    """Apply one transition; replaying it changes nothing. Returns what it did."""
    if a.status == "RAISED":
        cur = conn.execute(
            "INSERT INTO alert_lifecycle (raised_alert_id, turbine_id, site_id, sensor_id, rule, severity, raised_at, "
            "raised_value, evidence) VALUES (%s, %s, %s, %s, %s, %s, to_timestamp(%s / 1000.0), %s, %s) "
            "ON CONFLICT (raised_alert_id) DO NOTHING",
            (a.alert_id, a.turbine_id, a.site_id, a.sensor_id, a.rule, a.severity, a.event_time_ms, a.value, a.evidence),
        )
        return "raised" if cur.rowcount else "seen"
    # CLEARED closes the newest open episode of the same turbine, sensor and rule raised before it
    cur = conn.execute(
        "UPDATE alert_lifecycle SET cleared_alert_id = %s, cleared_at = to_timestamp(%s / 1000.0), updated_at = now() "
        "WHERE raised_alert_id = (SELECT raised_alert_id FROM alert_lifecycle WHERE turbine_id = %s AND sensor_id = %s "
        "AND rule = %s AND cleared_at IS NULL AND raised_at <= to_timestamp(%s / 1000.0) ORDER BY raised_at DESC LIMIT 1) "
        "AND NOT EXISTS (SELECT 1 FROM alert_lifecycle WHERE cleared_alert_id = %s)",
        (a.alert_id, a.event_time_ms, a.turbine_id, a.sensor_id, a.rule, a.event_time_ms, a.alert_id),
    )
    return "cleared" if cur.rowcount else "seen"


def acknowledge(conn: psycopg.Connection[Any], alert_id: str, by: str, note: str = "") -> dict[str, Any]:
    """A person takes the alert; acknowledging twice keeps the first person and time."""
    if not by.strip():
        raise AlertingError("--by is required: who acknowledges the alert")
    row = conn.execute(
        "UPDATE alert_lifecycle SET acknowledged_by = COALESCE(acknowledged_by, %s), "
        "acknowledged_at = COALESCE(acknowledged_at, now()), ack_note = COALESCE(ack_note, %s), updated_at = now() "
        "WHERE raised_alert_id = %s RETURNING acknowledged_by, acknowledged_at",
        (by.strip(), note, alert_id),
    ).fetchone()
    if row is None:
        raise UnknownAlertError(f"no raised alert {alert_id!r} (alerts watch --json shows their ids)")
    return {"alert_id": alert_id, "acknowledged_by": row[0], "acknowledged_at": row[1].isoformat()}


def episodes(conn: psycopg.Connection[Any], open_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    where = "WHERE cleared_at IS NULL" if open_only else ""
    cur = conn.execute(
        "SELECT raised_alert_id, site_id, turbine_id, sensor_id, rule, severity, raised_at, acknowledged_by, acknowledged_at, "
        f"cleared_at FROM alert_lifecycle {where} ORDER BY raised_at DESC LIMIT %s",  # noqa: S608
        (limit,),
    )
    cols = [c.name for c in cur.description or []]
    return [dict(zip(cols, r)) for r in cur.fetchall()]
