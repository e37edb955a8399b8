"""Read a whole topic back (read_committed), for assertions."""

from __future__ import annotations

import subprocess
import time
import uuid

from confluent_kafka import Consumer, Message

from stack import install
from stack.settings import StackSettings
from udfs.wire import is_heartbeat


def read_all(bootstrap: str, topic: str, expected: int | None = None, timeout_s: float = 30.0,
             heartbeats: bool = False) -> list[Message]:
    """Every committed record of ``topic``; stops at ``expected`` records, or after a quiet spell. The bridge's
    heartbeats (edge_bridge/heartbeat.py) are left out unless ``heartbeats``: they are not records of the data."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}", "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "isolation.level": "read_committed",
    })
    consumer.subscribe([topic])
    out: list[Message] = []
    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                if expected is None and out and time.monotonic() - quiet_since > 3:
                    break
                continue
            if msg.error() or (not heartbeats and is_heartbeat(msg.key())):
                continue
            out.append(msg)
            quiet_since = time.monotonic()
            if expected is not None and len(out) >= expected:
                break
    finally:
        consumer.close()
    return out


def transactional_ids(stack: StackSettings, prefix: str) -> list[str]:
    """The transactional ids the broker keeps that start with ``prefix`` (Kafka's own ``TransactionsCommand
    list``, from the stack's broker jars: confluent-kafka has no ListTransactions)."""
    out = subprocess.run(
        [install.java(), "-cp", f"{stack.path('jvm', 'kafka', 'lib')}/*", "org.apache.kafka.tools.TransactionsCommand",
         "--bootstrap-server", stack.kafka_bootstrap, "list"],
        check=True, capture_output=True, text=True, timeout=120).stdout
    return sorted(line.split()[0] for line in out.splitlines()[1:] if line.startswith(prefix))
