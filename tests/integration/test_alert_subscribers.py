"""Alert subscribers against the real Kafka and Postgres, and a real local HTTP server as the webhook receiver."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
from confluent_kafka import Producer

from alerting.notifier import Notifier
from alerting.settings import AlertSettings
from alerting.watch import Filters, follow
from anemos.platform import Names
from stack.settings import PROJECT_ROOT, StackSettings

pytestmark = pytest.mark.integration

T0 = 1_790_000_000_000  # event times of the test alerts (2026-09-21)


def _alert(tag: str, n: int, turbine: str, site: str, rule: str, status: str, severity: str, at: int) -> dict:
    return {"alert_id": f"{tag}-a{n}", "turbine_id": f"{tag}-{turbine}", "site_id": f"{tag}-{site}", "sensor_id": "WNAC.WdSpd.1",
            "rule": rule, "status": status, "severity": severity, "event_time": f"2026-09-21 14:{at:02d}:00.000Z",
            "value": 31.5, "evidence": "z=5.1 over 60 samples", "detected_at": "2026-09-21 14:59:00.000Z"}


def _publish(stack: StackSettings, topic: str, committed: list[dict], aborted: list[dict]) -> None:
    """Like the stream job: transactional writes; the aborted transaction must stay invisible."""
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "transactional.id": f"test-{uuid.uuid4().hex}"})
    producer.init_transactions(30)
    for batch, commit in ((aborted, False), (committed, True)):
        producer.begin_transaction()
        for a in batch:
            producer.produce(topic, key=a["turbine_id"], value=json.dumps(a))
        producer.commit_transaction(30) if commit else producer.abort_transaction(30)


class Receiver(BaseHTTPRequestHandler):
    """Webhook endpoints: /flaky fails each alert's first two attempts, /down always 503, /reject always 400."""

    calls: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers["Idempotency-Key"]
        with self.lock:
            self.calls[self.path].append((key, body))
            attempt = sum(1 for k, _ in self.calls[self.path] if k == key)
        status = {"/flaky": 503 if attempt <= 2 else 200, "/down": 503, "/reject": 400}[self.path]
        self.send_response(status)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.calls.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_watch_filters_and_replays_committed_alerts_only(stack: StackSettings, names: Names) -> None:
    tag = uuid.uuid4().hex[:8]
    committed = [_alert(tag, 1, "T1", "S1", "zscore", "RAISED", "CRITICAL", 1),
                 _alert(tag, 2, "T2", "S2", "frozen_sensor", "RAISED", "WARNING", 2),
                 _alert(tag, 3, "T1", "S1", "zscore", "CLEARED", "CRITICAL", 5)]
    _publish(stack, names.alerts_topic, committed, aborted=[_alert(tag, 9, "T1", "S1", "zscore", "RAISED", "CRITICAL", 3)])

    def ids(filters: Filters, start: str = "earliest") -> list[str]:
        return [a.alert_id for a in follow(stack.kafka_bootstrap, names.alerts_topic, filters, start, idle_timeout_s=4)]

    assert ids(Filters()) == [f"{tag}-a1", f"{tag}-a2", f"{tag}-a3"]  # never the aborted a9
    assert ids(Filters(severities=frozenset({"CRITICAL"}), statuses=frozenset({"RAISED"}))) == [f"{tag}-a1"]
    assert ids(Filters(sites=frozenset({f"{tag}-S2"}))) == [f"{tag}-a2"]
    assert ids(Filters(rules=frozenset({"zscore"}), turbines=frozenset({f"{tag}-T1"}))) == [f"{tag}-a1", f"{tag}-a3"]
    assert ids(Filters(), start="2999-01-01T00:00:00Z") == []

    cli = subprocess.run(
        [sys.executable, "-m", "anemos", "alerts", "watch", "--topic", names.alerts_topic, "--from", "earliest", "--severity",
         "WARNING", "--idle-timeout", "4", "--json"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    assert [json.loads(line)["alert_id"] for line in cli.stdout.splitlines()] == [f"{tag}-a2"]


def test_webhooks_deliver_every_alert_with_a_stable_key_and_dead_letter_what_fails(
    stack: StackSettings, names: Names, receiver: str,
) -> None:
    tag = uuid.uuid4().hex[:8]
    alerts = [_alert(tag, 1, "T1", "S1", "zscore", "RAISED", "CRITICAL", 1),
              _alert(tag, 2, "T2", "S1", "power_curve", "RAISED", "WARNING", 2),
              _alert(tag, 3, "T1", "S1", "zscore", "CLEARED", "CRITICAL", 4)]
    _publish(stack, names.alerts_topic, alerts, aborted=[])
    endpoints = (f"{receiver}/flaky", f"{receiver}/down", f"{receiver}/reject")
    settings = AlertSettings.from_stack(stack, alerts_topic=names.alerts_topic, group=f"test-{tag}", webhooks=endpoints,
                                        max_attempts=4, backoff_s=0.05, max_backoff_s=0.2)
    notifier = Notifier(settings)
    try:
        deadline = time.monotonic() + 60
        while notifier.handled < 3 and time.monotonic() < deadline:
            notifier.poll_once()
    finally:
        notifier.close()
    assert notifier.handled == 3

    want = [a["alert_id"] for a in alerts]
    flaky = Receiver.calls["/flaky"]
    assert sorted({k for k, _ in flaky}) == sorted(want), "every alert reached the flaky endpoint"
    for key in want:  # three attempts each, all under the alert's own key, with the alert as body
        attempts = [body for k, body in flaky if k == key]
        assert len(attempts) == 3 and all(b["alert_id"] == key for b in attempts)
    assert len(Receiver.calls["/down"]) == 3 * 4 and len(Receiver.calls["/reject"]) == 3

    with psycopg.connect(stack.postgres_dsn) as conn:
        rows = conn.execute("SELECT alert_id, endpoint, status, attempts, http_status FROM alert_deliveries WHERE alert_id LIKE %s",
                            (f"{tag}-%",)).fetchall()
        life = conn.execute("SELECT raised_alert_id, cleared_alert_id FROM alert_lifecycle WHERE turbine_id LIKE %s "
                            "ORDER BY raised_alert_id", (f"{tag}-%",)).fetchall()
    by = {(a, e.rsplit("/", 1)[1]): (s, n, h) for a, e, s, n, h in rows}
    for key in want:
        assert by[(key, "flaky")] == ("DELIVERED", 3, 200)
        assert by[(key, "down")] == ("DEAD_LETTER", 4, 503)
        assert by[(key, "reject")] == ("DEAD_LETTER", 1, 400)
    assert life == [(f"{tag}-a1", f"{tag}-a3"), (f"{tag}-a2", None)]

    # a restarted notifier in the same group neither re-delivers nor re-opens anything
    again = Notifier(settings)
    try:
        assert again.poll_once(timeout_s=5) == 0
    finally:
        again.close()
    assert len(Receiver.calls["/flaky"]) == 9

    ack = subprocess.run([sys.executable, "-m", "anemos", "alerts", "ack", f"{tag}-a2", "--by", "carol", "--json"],
                         capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert ack.returncode == 0, ack.stderr
    assert json.loads(ack.stdout)["acknowledged_by"] == "carol"
    unknown = subprocess.run([sys.executable, "-m", "anemos", "alerts", "ack", f"{tag}-nope", "--by", "carol"],
                             capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert unknown.returncode == 1 and "no raised alert" in unknown.stderr
