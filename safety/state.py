"""What the safety layer keeps in Redis: active freezes, the monitor's heartbeat, and reading last-known-good.

Keys (``<prefix>`` is the stream job's): ``<prefix>:freeze:<scope>`` (a hash per active freeze),
``<prefix>:freezes`` (the set of active scopes), ``<prefix>:monitor:heartbeat`` (expires when the
monitor stops looking). The last-known-good hashes ``<prefix>:lkg:<turbine>`` are the job's.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import redis

from udfs.freeze import Freeze, FreezeEvent


@dataclass(frozen=True)
class Lkg:
    """A turbine's last-known-good state: latest good value per channel with its event time."""

    turbine_id: str
    site_id: str | None
    last_event_ms: int
    written_at_ms: int
    channels: Mapping[str, tuple[float, int]]

    def age_ms(self, now_ms: int) -> int:
        return now_ms - self.last_event_ms


class SafetyState:
    def __init__(self, url: str, prefix: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3, decode_responses=True)
        self.prefix = prefix

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # freezes ---------------------------------------------------------------------------
    def freezes(self) -> dict[str, Freeze]:
        """The active freezes; raises redis errors (callers fail safe)."""
        scopes = sorted(self.client.smembers(self._key("freezes")))
        pipe = self.client.pipeline()
        for scope in scopes:
            pipe.hgetall(self._key("freeze", scope))
        out = {}
        for scope, h in zip(scopes, pipe.execute()):
            if h:
                out[scope] = Freeze(scope, h["reason"], int(h["since_ms"]), h["detail"])
        return out

    def apply(self, events: Iterable[FreezeEvent]) -> None:
        pipe = self.client.pipeline(transaction=True)
        for e in events:
            f = e.freeze
            if e.kind == "FROZEN":
                pipe.hset(self._key("freeze", f.scope), mapping={"reason": f.reason, "since_ms": f.since_ms, "detail": f.detail})
                pipe.sadd(self._key("freezes"), f.scope)
            else:
                pipe.delete(self._key("freeze", f.scope))
                pipe.srem(self._key("freezes"), f.scope)
        pipe.execute()

    def beat(self, ttl_s: float) -> None:
        self.client.set(self._key("monitor", "heartbeat"), int(time.time() * 1000), px=int(ttl_s * 1000))

    def monitor_alive(self) -> bool:
        return bool(self.client.exists(self._key("monitor", "heartbeat")))

    # last-known-good -------------------------------------------------------------------
    def lkg(self, turbine_id: str) -> Lkg | None:
        return _parse(turbine_id, self.client.hgetall(self._key("lkg", turbine_id)))

    def lkg_many(self, turbine_ids: Iterable[str]) -> dict[str, Lkg]:
        ids = list(turbine_ids)
        pipe = self.client.pipeline()
        for t in ids:
            pipe.hgetall(self._key("lkg", t))
        return {t: lkg for t, h in zip(ids, pipe.execute()) if (lkg := _parse(t, h)) is not None}

    def lkg_progress(self) -> dict[str, tuple[int, str | None]]:
        """Every turbine with last-known-good: (newest event time, site)."""
        keys = list(self.client.scan_iter(match=self._key("lkg", "*"), count=1000))
        pipe = self.client.pipeline()
        for k in keys:
            pipe.hmget(k, "last_event_ms", "site_id")
        prefix = self._key("lkg", "")
        return {k[len(prefix):]: (int(last), site) for k, (last, site) in zip(keys, pipe.execute()) if last is not None}


def _parse(turbine_id: str, h: Mapping[str, str]) -> Lkg | None:
    if not h or "last_event_ms" not in h:
        return None
    channels = {k: (float(v), int(h[f"{k}:t"])) for k, v in h.items() if f"{k}:t" in h}
    return Lkg(turbine_id, h.get("site_id"), int(h["last_event_ms"]), int(h.get("written_at_ms", 0)), channels)
