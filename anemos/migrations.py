"""Apply the numbered Postgres migrations in sql/postgres (V001__name.sql, ...) once each."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "sql" / "postgres"
_NAME = re.compile(r"V(\d{3})__([a-z0-9_]+)\.sql")


class MigrationError(RuntimeError):
    """A migration that was applied has since been edited, or one failed."""


def pending(folder: Path = MIGRATIONS) -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(folder.glob("V*.sql")):
        m = _NAME.fullmatch(path.name)
        if m is None:
            raise MigrationError(f"{path.name} is not named V<nnn>__<name>.sql")
        found.append((int(m.group(1)), m.group(2), path))
    return found


def migrate(dsn: str, folder: Path = MIGRATIONS) -> list[str]:
    """Apply what is missing, in order, each in its own transaction. Returns what was applied."""
    applied: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name, path in pending(folder):
            text = path.read_text()
            checksum = hashlib.sha256(text.encode()).hexdigest()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(4242)")
                row = conn.execute("SELECT checksum FROM schema_migrations WHERE version = %s", (version,)).fetchone()
                if row is not None:
                    if row[0] != checksum:
                        raise MigrationError(f"{path.name} was edited after it was applied; add a new migration instead")
                    continue
                conn.execute(text)
                conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)", (version, name, checksum))
            log.info("applied migration %s", path.name)
            applied.append(path.name)
    return applied
