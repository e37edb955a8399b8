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
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from flink_jobs.ingest.types import HOT_ROWS
from udfs.epoch import from_millis, millis

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
    """Last-known-good per turbine in one Redis hash: ``<channel>``, ``<channel>:t``, ``last_event_ms``.

    ``write`` sends one turbine's values at once; ``stage`` keeps them for ``flush``, which sends every staged
    turbine's in one pipeline: one round trip for all of them instead of one each. A channel staged again before
    the flush keeps only its newer value, so a turbine is one script call per flush however many instants it had.
    Each call of the script is guarded by event time, so sending a pipeline again after an error, or a replay,
    never moves a channel back.
    """

    def __init__(self, url: str, prefix: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._script = self._client.register_script(LKG_SCRIPT)
        self._prefix = prefix
        self._staged: dict[str, tuple[str, dict[str, tuple[float, int]]]] = {}  # turbine -> (site, channels)

    def _call(self, turbine_id: str, site_id: str, channels: Mapping[str, tuple[float, int]]) -> tuple[list[str], list[Any]]:
        args: list[Any] = [site_id, int(time.time() * 1000)]
        for channel, (value, event_time) in channels.items():
            args += [channel, repr(float(value)), int(event_time)]
        return [lkg_key(self._prefix, turbine_id)], args

    @_transient
    def write(self, turbine_id: str, site_id: str, channels: Mapping[str, tuple[float, int]]) -> int:
        keys, args = self._call(turbine_id, site_id, channels)
        return int(self._script(keys=keys, args=args))

    def stage(self, turbine_id: str, site_id: str, channels: Mapping[str, tuple[float, int]]) -> None:
        """Keep a turbine's values (channel -> (value, event time)) for the next flush; of a channel staged
        twice, the value with the newer event time stays."""
        entry = self._staged.get(turbine_id)
        if entry is None:
            self._staged[turbine_id] = (site_id, dict(channels))
            return
        held = entry[1]
        for channel, value in channels.items():
            before = held.get(channel)
            if before is None or value[1] > before[1]:
                held[channel] = value
        self._staged[turbine_id] = (site_id, held)

    @property
    def staged(self) -> int:
        """How many turbines wait for the flush."""
        return len(self._staged)

    @_transient
    def flush(self) -> None:
        """Send every staged turbine's values in one pipeline; kept staged until Redis has taken them all."""
        if not self._staged:
            return
        pipe = self._client.pipeline(transaction=False)
        for turbine_id, (site_id, channels) in self._staged.items():
            keys, args = self._call(turbine_id, site_id, channels)
            self._script(keys=keys, args=args, client=pipe)
        pipe.execute()
        self._staged = {}

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


# the one key of a PostgresUpsert's input: all of a table's pending rows are one keyed list, flushed by one timer
HOT_KEY = 0


class PostgresUpsert(KeyedProcessFunction):
    """Upserts aggregate rows into ``table``, a batch per ``flush_ms`` in one transaction; ``version`` guards
    against moving a row backwards. Input keyed by ``HOT_KEY``: rows of ``columns``, window bounds as datetimes.

    A commit per row made Postgres flush its WAL to disk for each one (fsync is on), and kept the operator waiting
    on it. The rows wait for the next flush in keyed list state, so a checkpoint holds every row not yet
    committed and a restore commits them (its timer comes back with it); rows committed after the checkpoint
    are replayed and written again, the same version, which changes nothing. Old windows are deleted past
    ``retention_days``.
    """

    def __init__(self, dsn: str, table: str, columns: Sequence[str], key: Sequence[str], retention_days: int,
                 flush_ms: int) -> None:
        self._dsn, self._table, self._columns, self._key = dsn, table, list(columns), list(key)
        self._retention_days, self._flush_ms = retention_days, flush_ms

    def open(self, ctx: RuntimeContext) -> None:
        from psycopg import sql

        self._upsert = versioned_upsert(self._table, self._columns, self._key)
        self._retention = sql.SQL("DELETE FROM {t} WHERE window_end < now() - make_interval(days => %s)").format(
            t=sql.Identifier(self._table)
        )
        # the rows as types.HOT_ROWS types them (a TypeInformation holds JVM objects: it cannot travel pickled)
        self._pending = ctx.get_list_state(ListStateDescriptor("pending", HOT_ROWS[self._table]))
        self._bounds = [self._columns.index("window_start"), self._columns.index("window_end")]
        self._conn: psycopg.Connection[Any] | None = None
        self._last_retention = 0.0
        self._due = -1  # the flush timer this operator asked for last (asked again after a restore: one per time)
        self._written = ctx.get_metrics_group().counter("postgres_upserts")
        self._flushes = ctx.get_metrics_group().counter("postgres_flushes")

    @_transient
    def _execute(self, rows: list[tuple[Any, ...]]) -> None:
        if self._conn is None or self._conn.closed:
            # window bounds go as UTC timestamps
            self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5, options="-c timezone=UTC")
            self._query = self._upsert.as_bytes(self._conn)  # rendered once per connection
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                cur.executemany(self._query, rows)  # pipelined, a prepared statement, one commit
            if time.monotonic() - self._last_retention > 600:
                self._conn.execute(self._retention, (self._retention_days,))
                self._last_retention = time.monotonic()
        except psycopg.OperationalError:
            self._conn.close()
            raise

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        params = [value[c] for c in self._columns]
        for i in self._bounds:
            params[i] = millis(params[i])
        self._pending.add(Row(*params))
        now = ctx.timer_service().current_processing_time()
        due = (now // self._flush_ms + 1) * self._flush_ms
        if due != self._due:
            ctx.timer_service().register_processing_time_timer(due)
            self._due = due
        return iter(())

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        rows = []
        for row in self._pending.get():
            params = list(row)
            for i in self._bounds:
                params[i] = from_millis(params[i])
            rows.append(tuple(params))
        if rows:
            self._execute(rows)
            self._pending.clear()
            self._written.inc(len(rows))
            self._flushes.inc()
        return iter(())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
