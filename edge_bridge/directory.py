"""Which turbines each edge gateway may send for, read from the turbine registry in Postgres."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import psycopg

log = logging.getLogger(__name__)


class EdgeDirectory:
    """edge_id -> registered turbine ids, refreshed periodically and on a miss (rate-limited),
    so turbines registered while the bridge runs are accepted without a restart."""

    def __init__(self, dsn: str, refresh_s: float = 30.0, miss_refresh_s: float = 0.25) -> None:
        self._dsn = dsn
        self._refresh_s = refresh_s
        self._miss_refresh_s = miss_refresh_s
        self._map: dict[str, frozenset[str]] = {}
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        with psycopg.connect(self._dsn, connect_timeout=5) as conn:
            rows = conn.execute("SELECT edge_id, turbine_id FROM turbines").fetchall()
        fresh: dict[str, set[str]] = {}
        for edge, turbine in rows:
            fresh.setdefault(edge, set()).add(turbine)
        with self._lock:
            self._map = {k: frozenset(v) for k, v in fresh.items()}
            self._loaded_at = time.monotonic()
        log.debug("edge directory loaded: %d gateways, %d turbines", len(fresh), len(rows))

    def denied(self, edge_id: str, turbines: Iterable[str]) -> set[str]:
        """The turbines of ``turbines`` that are not registered to ``edge_id``.

        A miss is always checked against a copy loaded after it was asked about (waiting
        at most ``miss_refresh_s``), so a turbine registered a moment ago is never refused;
        concurrent misses share one reload, so the registry sees a few queries a second at most.
        """
        asked_at = time.monotonic()
        wanted = set(turbines)
        missing = wanted - self._map.get(edge_id, frozenset())
        stale = asked_at - self._loaded_at > self._refresh_s
        if missing or stale:
            if missing:
                time.sleep(max(0.0, self._miss_refresh_s - (asked_at - self._loaded_at)))
            with self._reload_lock:
                if self._loaded_at < asked_at:
                    try:
                        self.reload()
                    except psycopg.Error as err:  # keep serving from the last good copy
                        log.warning("edge directory refresh failed, using the last copy: %s", err)
            missing = wanted - self._map.get(edge_id, frozenset())
        return missing
