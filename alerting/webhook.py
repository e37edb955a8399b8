"""Deliver alerts to HTTP endpoints: retries with backoff, an idempotency key per alert, a dead letter when they run out.

Each POST carries ``Idempotency-Key: <alert_id>`` (the same on every attempt and after a restart,
so a receiver can drop repeats) and, when a secret is set, ``X-Anemos-Signature: sha256=<hmac>``
of the body. 5xx, 408, 429 and connection errors are retried; any other 4xx is final.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

log = logging.getLogger("anemos.alerts.webhook")

RETRYABLE_STATUS = {408, 429} | set(range(500, 600))


class _Retryable(Exception):
    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(detail)
        self.status = status


@dataclass(frozen=True)
class Delivery:
    endpoint: str
    delivered: bool
    attempts: int
    http_status: int | None
    error: str | None


class WebhookSender:
    def __init__(self, max_attempts: int = 6, backoff_s: float = 0.5, max_backoff_s: float = 30.0, timeout_s: float = 10.0,
                 secret: str | None = None) -> None:
        self._client = httpx.Client(timeout=timeout_s)
        self._max_attempts, self._backoff_s, self._max_backoff_s = max_attempts, backoff_s, max_backoff_s
        self._secret = secret.encode() if secret else None

    def deliver(self, endpoint: str, idempotency_key: str, payload: dict[str, Any]) -> Delivery:
        body = json.dumps(payload, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key, "User-Agent": "anemos-alerts/1"}
        if self._secret is not None:
            headers["X-Anemos-Signature"] = "sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        attempts = 0

        def post() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            try:
                response = self._client.post(endpoint, content=body, headers=headers)
            except httpx.HTTPError as err:
                raise _Retryable(None, f"{type(err).__name__}: {err}") from err
            if response.status_code in RETRYABLE_STATUS:
                raise _Retryable(response.status_code, f"HTTP {response.status_code}")
            return response

        retrying = Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, _Retryable)),
            wait=wait_exponential_jitter(multiplier=self._backoff_s, max=self._max_backoff_s, jitter=self._backoff_s),
            stop=stop_after_attempt(self._max_attempts),
            before_sleep=lambda s: log.info("webhook %s, alert %s: %s; retrying", endpoint, idempotency_key,
                                            s.outcome.exception() if s.outcome else "?"),
        )
        try:
            response = retrying(post)
        except RetryError as err:
            last = err.last_attempt.exception()
            status = last.status if isinstance(last, _Retryable) else None
            return Delivery(endpoint, False, attempts, status, f"gave up after {attempts} attempts: {last}")
        if response.is_success:
            return Delivery(endpoint, True, attempts, response.status_code, None)
        return Delivery(endpoint, False, attempts, response.status_code, f"HTTP {response.status_code} is final: {response.text[:200]}")

    def close(self) -> None:
        self._client.close()
