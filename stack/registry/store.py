"""Schemas, subjects and compatibility settings kept in Postgres."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from stack.registry.compat import Level

#: (subject, new schema, existing schemas oldest first) -> reasons it is incompatible
CompatCheck = Callable[[str, str, list[str]], list[str]]

DDL = """
CREATE SCHEMA IF NOT EXISTS schema_registry;
CREATE TABLE IF NOT EXISTS schema_registry.schemas (
    id          serial PRIMARY KEY,
    fingerprint text NOT NULL UNIQUE,
    schema_type text NOT NULL DEFAULT 'AVRO',
    schema_text text NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_registry.subject_versions (
    subject   text    NOT NULL,
    version   integer NOT NULL,
    schema_id integer NOT NULL REFERENCES schema_registry.schemas(id),
    deleted   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (subject, version)
);
CREATE TABLE IF NOT EXISTS schema_registry.config (
    subject       text PRIMARY KEY,   -- '' is the global level
    compatibility text NOT NULL
);
"""


def canonical(schema_text: str) -> str:
    """Whitespace-insensitive form used to recognise a schema registered before."""
    return json.dumps(json.loads(schema_text), sort_keys=True, separators=(",", ":"))


def fingerprint(schema_text: str) -> str:
    return hashlib.sha256(canonical(schema_text).encode()).hexdigest()


@dataclass(frozen=True)
class Version:
    subject: str
    version: int
    schema_id: int
    schema: str


class Store:
    """All registry state; every method is one short transaction."""

    def __init__(self, dsn: str, default_level: Level) -> None:
        self._pool = ConnectionPool(dsn, min_size=1, max_size=8, open=True)
        self._default = default_level
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(7331)")
            conn.execute(DDL)

    def close(self) -> None:
        self._pool.close()

    def schema_by_id(self, schema_id: int) -> str | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT schema_text FROM schema_registry.schemas WHERE id = %s", (schema_id,)).fetchone()
        return None if row is None else row[0]

    def subjects(self) -> list[str]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT subject FROM schema_registry.subject_versions WHERE NOT deleted ORDER BY 1"
            ).fetchall()
        return [r[0] for r in rows]

    def versions(self, subject: str) -> list[Version]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT v.version, v.schema_id, s.schema_text FROM schema_registry.subject_versions v "
                "JOIN schema_registry.schemas s ON s.id = v.schema_id "
                "WHERE v.subject = %s AND NOT v.deleted ORDER BY v.version",
                (subject,),
            ).fetchall()
        return [Version(subject, r[0], r[1], r[2]) for r in rows]

    def level(self, subject: str | None) -> Level:
        with self._pool.connection() as conn:
            keys = [subject, ""] if subject else [""]
            for key in keys:
                row = conn.execute(
                    "SELECT compatibility FROM schema_registry.config WHERE subject = %s", (key,)
                ).fetchone()
                if row is not None:
                    return Level(row[0])
        return self._default

    def subject_level(self, subject: str) -> Level | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT compatibility FROM schema_registry.config WHERE subject = %s", (subject,)).fetchone()
        return None if row is None else Level(row[0])

    def set_level(self, subject: str | None, level: Level) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO schema_registry.config (subject, compatibility) VALUES (%s, %s) "
                "ON CONFLICT (subject) DO UPDATE SET compatibility = excluded.compatibility",
                (subject or "", level.value),
            )

    def register(self, subject: str, schema_text: str, check: CompatCheck) -> tuple[int, list[str]]:
        """Register ``schema_text`` under ``subject``; returns (schema id, incompatibilities)."""
        fp = fingerprint(schema_text)
        with self._pool.connection() as conn, conn.transaction():
            # one registration per subject at a time, so versions stay dense and ordered
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (subject,))
            existing = conn.execute(
                "SELECT v.version, s.id, s.fingerprint, s.schema_text FROM schema_registry.subject_versions v "
                "JOIN schema_registry.schemas s ON s.id = v.schema_id "
                "WHERE v.subject = %s AND NOT v.deleted ORDER BY v.version",
                (subject,),
            ).fetchall()
            for _version, schema_id, old_fp, _text in existing:
                if old_fp == fp:
                    return schema_id, []
            problems = check(subject, schema_text, [r[3] for r in existing])
            if problems:
                return -1, problems
            row = conn.execute(
                "INSERT INTO schema_registry.schemas (fingerprint, schema_text) VALUES (%s, %s) "
                "ON CONFLICT (fingerprint) DO UPDATE SET fingerprint = excluded.fingerprint RETURNING id",
                (fp, canonical(schema_text)),
            ).fetchone()
            assert row is not None
            schema_id = row[0]
            last = conn.execute(
                "SELECT coalesce(max(version), 0) FROM schema_registry.subject_versions WHERE subject = %s", (subject,)
            ).fetchone()
            version = (last[0] if last else 0) + 1
            conn.execute(
                "INSERT INTO schema_registry.subject_versions (subject, version, schema_id) VALUES (%s, %s, %s)",
                (subject, version, schema_id),
            )
        return schema_id, []

    def delete_subject(self, subject: str) -> list[int]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "UPDATE schema_registry.subject_versions SET deleted = true "
                "WHERE subject = %s AND NOT deleted RETURNING version",
                (subject,),
            ).fetchall()
        return sorted(r[0] for r in rows)

