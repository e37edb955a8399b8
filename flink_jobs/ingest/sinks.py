"""Side-effecting sinks called from Python: Redis last-known-good and Postgres hot aggregates.

Both are repeated when the job replays from a checkpoint, so both are idempotent and guarded:
Redis by event time (a value never replaces a newer one), Postgres by row version (a row
never moves back to a version it has passed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg
import redis
from pyflink.common import Row
from pyflink.datastream import ProcessFunction, RuntimeContext
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

log = logging.getLogger(__name__)

# KEYS[1]: the turbine's hash. ARGV: site_id, written_at, then (channel, value, event_time) triples.
# Each channel is set only when its event time is newer than the stored one.
LKG_SCRIPT = """
local key = KEYS[1]
local newest = tonumber(redis.call('HGET', key, 'last_event_ms') or '-1')
redis.call('HSET', key, 'site_id', ARGV[1])
for i = 3, #ARGV, 3 do
  local channel, value, t = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local stored = tonumber(redis.call('HGET', key, channel .. ':t') or '-1')
  if t > stored then
    redis.call('HSET', key, channel, value, channel .. ':t', t)
    if t > newest then newest = t end
  end
end
redis.call('HSET', key, 'last_event_ms', newest, 'written_at_ms', ARGV[2])
return newest
"""

_transient = retry(
    retry=retry_if_exception_type((redis.ConnectionError, redis.TimeoutError, psycopg.OperationalError)),
    wait=wait_exponential_jitter(multiplier=0.2, max=5),
    stop=stop_after_delay(120),  # then fail the task: Flink restarts it from the last checkpoint
    reraise=True,
)


def lkg_key(prefix: str, turbine_id: str) -> str:
    return f"{prefix}:lkg:{turbine_id}"


class LkgWriter:
    """Last-known-good per turbine in one Redis hash: ``<channel>``, ``<channel>:t``, ``last_event_ms``."""

    def __init__(self, url: str, prefix: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._script = self._client.register_script(LKG_SCRIPT)
        self._prefix = prefix

    @_transient
    def write(self, turbine_id: str, site_id: str, channels: Mapping[str, tuple[float, int]]) -> int:
        args: list[Any] = [site_id, int(time.time() * 1000)]
        for channel, (value, event_time) in channels.items():
            args += [channel, repr(float(value)), int(event_time)]
        return int(self._script(keys=[lkg_key(self._prefix, turbine_id)], args=args))

    def close(self) -> None:
        self._client.close()


def versioned_upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE, only when the row's ``version`` does not go back (psycopg SQL)."""
    from psycopg import sql

    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    updates = sql.SQL(", ").join(sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c)) for c in columns if c not in key)
    return sql.SQL(
        "INSERT INTO {t} ({cols}, updated_at) VALUES ({vals}, now()) ON CONFLICT ({key}) DO UPDATE SET {updates}, "
        "updated_at = now() WHERE {t}.version <= excluded.version"
    ).format(
        t=sql.Identifier(table), cols=cols, vals=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        key=sql.SQL(", ").join(map(sql.Identifier, key)), updates=updates,
    )


class PostgresUpsert(ProcessFunction):
    """Upserts each aggregate row into ``table``; ``version`` guards against moving a row backwards.

    Rows are written as they arrive (one short autocommit statement each: aggregates are few,
    one per window and channel), and old windows are deleted past ``retention_days``.
    """

    def __init__(self, dsn: str, table: str, columns: Sequence[str], key: Sequence[str], retention_days: int) -> None:
        self._dsn, self._table, self._columns, self._key = dsn, table, list(columns), list(key)
        self._retention_days = retention_days

    def open(self, ctx: RuntimeContext) -> None:
        from psycopg import sql

        self._upsert = versioned_upsert(self._table, self._columns, self._key)
        self._retention = sql.SQL("DELETE FROM {t} WHERE window_end < now() - make_interval(days => %s)").format(
            t=sql.Identifier(self._table)
        )
        self._conn: psycopg.Connection[Any] | None = None
        self._last_retention = 0.0
        self._written = ctx.get_metrics_group().counter("postgres_upserts")

    @_transient
    def _execute(self, params: tuple[Any, ...]) -> None:
        if self._conn is None or self._conn.closed:
            # window bounds arrive as UTC wall-clock timestamps
            self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5, options="-c timezone=UTC")
            # rendered once per connection, and a server-side prepared statement from the first row on
            self._query = self._upsert.as_bytes(self._conn)
        try:
            self._conn.execute(self._query, params, prepare=True)
            if time.monotonic() - self._last_retention > 600:
                self._conn.execute(self._retention, (self._retention_days,))
                self._last_retention = time.monotonic()
        except psycopg.OperationalError:
            self._conn.close()
            raise

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        self._execute(tuple(value[c] for c in self._columns))
        self._written.inc()
        return iter(())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
