"""Per-gateway rate limiting: a token bucket of readings per second."""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` banked; thread-safe."""

    def __init__(self, rate: float, burst: float, clock: "type[time.monotonic] | None" = None) -> None:
        self.rate, self.burst = rate, burst
        self._clock = clock or time.monotonic
        self._tokens = burst
        self._at = self._clock()
        self._lock = threading.Lock()

    def take(self, n: float) -> bool:
        """Take ``n`` tokens if there are that many; False (and take none) otherwise."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if n > self._tokens:
                return False
            self._tokens -= n
            return True


class RateLimiter:
    """One bucket per gateway."""

    def __init__(self, readings_per_s: float, burst: float) -> None:
        self._rate, self._burst = readings_per_s, burst
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def allow(self, edge_id: str, readings: int) -> bool:
        with self._lock:
            bucket = self._buckets.setdefault(edge_id, TokenBucket(self._rate, self._burst))
        return bucket.take(readings)
