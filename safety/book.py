"""The gate's book in Postgres: the turbine registry as the gate sees it, each command's state, and the audit trail."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from udfs.gate import Command, Request, Verdict


@dataclass(frozen=True)
class Asset:
    turbine_id: str
    site_id: str
    edge_id: str
    protected: bool


@dataclass(frozen=True)
class Booked:
    command_id: str
    request: Request
    status: str
    requested_at_ms: int
    approved_by: str | None
    turbines: tuple[str, ...]


class CommandBook:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self._dsn, connect_timeout=5, autocommit=True)

    def assets(self, req: Request) -> list[Asset]:
        """The target's turbines, read now: a protected flag set a second ago already counts."""
        column, value = ("turbine_id", req.turbine_id) if req.turbine_id else ("site_id", req.site_id)
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT turbine_id, site_id, edge_id, protected FROM turbines WHERE {column} = %s ORDER BY turbine_id",  # noqa: S608
                (value,),
            ).fetchall()
        return [Asset(*r) for r in rows]

    def record(self, command_id: str, req: Request, verdict: Verdict, status: str, now_ms: int,
               approved_by: str | None = None) -> None:
        """Upsert the command's state and append the decision to the audit trail, in one transaction."""
        actor = approved_by or req.requested_by
        detail = {"target": req.target, "command": req.command.value, "setpoint": req.setpoint, "reason": req.reason,
                  "outcome": verdict.outcome.value, "code": verdict.code, "decision": verdict.reason,
                  "turbines": list(verdict.turbines), "excluded": list(verdict.excluded)}
        with self._connect() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO commands (command_id, target, command, setpoint, requested_by, reason, status, decision, "
                "approved_by, turbines, excluded, requested_at, decided_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "to_timestamp(%s / 1000.0), to_timestamp(%s / 1000.0)) ON CONFLICT (command_id) DO UPDATE SET "
                "status = excluded.status, decision = excluded.decision, approved_by = excluded.approved_by, "
                "turbines = excluded.turbines, excluded = excluded.excluded, decided_at = excluded.decided_at",
                (command_id, req.target, req.command.value, req.setpoint, req.requested_by, req.reason, status, verdict.reason,
                 approved_by, list(verdict.turbines), list(verdict.excluded), now_ms, now_ms),
            )
            conn.execute("INSERT INTO command_audit (command_id, event, actor, detail) VALUES (%s, %s, %s, %s)",
                         (command_id, status if approved_by is None else f"APPROVAL_{status}", actor, Jsonb(detail)))

    def audit(self, command_id: str, event: str, actor: str, detail: dict[str, Any]) -> None:
        with self._connect() as conn:
            conn.execute("INSERT INTO command_audit (command_id, event, actor, detail) VALUES (%s, %s, %s, %s)",
                         (command_id, event, actor, Jsonb(detail)))

    def load(self, command_id: str) -> Booked | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT target, command, setpoint, requested_by, reason, status, "
                "(extract(epoch FROM requested_at) * 1000)::bigint, approved_by, turbines FROM commands WHERE command_id = %s",
                (command_id,),
            ).fetchone()
        if row is None:
            return None
        target, command, setpoint, by, reason, status, at, approved_by, turbines = row
        kind, _, ident = target.partition(":")
        req = Request(Command(command), by, reason, turbine_id=ident if kind == "turbine" else None,
                      site_id=ident if kind == "site" else None, setpoint=setpoint)
        return Booked(command_id, req, status, int(at), approved_by, tuple(turbines))

    def set_status(self, command_id: str, status: str) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE commands SET status = %s WHERE command_id = %s", (status, command_id))

    def trail(self, command_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The audit trail, newest last (one command's, or the latest ``limit`` entries)."""
        where, params = ("WHERE command_id = %s", (command_id, limit)) if command_id else ("", (limit,))
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT id, command_id, event, actor, detail, at FROM command_audit {where} ORDER BY id DESC LIMIT %s",  # noqa: S608
                params,
            ).fetchall()
        return [{"id": i, "command_id": c, "event": e, "actor": a, "detail": d if isinstance(d, dict) else json.loads(d),
                 "at": at.isoformat()} for i, c, e, a, d, at in reversed(rows)]

    def executed_turbines(self, command_id: str) -> set[str]:
        with self._connect() as conn:
            rows = conn.execute("SELECT DISTINCT detail->>'turbine_id' FROM command_audit WHERE command_id = %s AND event = 'EXECUTED'",
                                (command_id,)).fetchall()
        return {r[0] for r in rows}

    def expire_pending(self, now_ms: int, ttl_ms: int) -> list[str]:
        """Mark pending commands past their approval window EXPIRED (with an audit entry each)."""
        with self._connect() as conn, conn.transaction():
            rows = conn.execute(
                "UPDATE commands SET status = 'EXPIRED', decided_at = to_timestamp(%s / 1000.0) WHERE status = 'PENDING_APPROVAL' "
                "AND requested_at < to_timestamp(%s / 1000.0) RETURNING command_id",
                (now_ms, now_ms - ttl_ms),
            ).fetchall()
            for (command_id,) in rows:
                conn.execute("INSERT INTO command_audit (command_id, event, actor, detail) VALUES (%s, 'EXPIRED', 'gate', %s)",
                             (command_id, Jsonb({"reason": f"no second approval within {ttl_ms // 60_000} min"})))
        return [r[0] for r in rows]
