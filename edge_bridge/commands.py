"""The edge side of turbine commands: follow this gateway's records on ``commands``, execute, acknowledge.

A record is acknowledged to the gate (``ControlService.AckCommand``) before its offset is
committed, so a crash between the two repeats the execution report, never loses it; the
executor sees a command id it has already run and reports it again without running it twice.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from confluent_kafka import Consumer
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from edge_bridge.proto import control_pb2 as pb
from edge_bridge.proto import control_pb2_grpc as pb_grpc

log = logging.getLogger("anemos.agent.commands")

#: runs one command on one turbine; returns (executed, detail)
Executor = Callable[[dict[str, Any]], tuple[bool, str]]


@dataclass
class JournalExecutor:
    """Stands in for the turbine controller's interface: appends each command to a JSON-lines journal, once."""

    path: Path

    def __post_init__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._done = set()
        if self.path.exists():
            self._done = {(r["command_id"], r["turbine_id"]) for r in map(json.loads, self.path.read_text().splitlines())}

    def __call__(self, record: dict[str, Any]) -> tuple[bool, str]:
        key = (record["command_id"], record["turbine_id"])
        if key in self._done:
            return True, "already executed"
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        self._done.add(key)
        return True, f"{record['command']} sent to the turbine controller"


class CommandListener:
    def __init__(self, bootstrap: str, topic: str, edge_id: str, gate: grpc.Channel, execute: Executor) -> None:
        self.edge_id = edge_id
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": f"edge-{edge_id}", "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "isolation.level": "read_committed",
        })
        self._consumer.subscribe([topic])
        self._stub = pb_grpc.ControlServiceStub(gate)
        self._execute = execute
        self._stop = threading.Event()
        self._closed = False
        self.executed: list[dict[str, Any]] = []

    def _ack(self, record: dict[str, Any], ok: bool, detail: str) -> None:
        msg = pb.CommandAck(command_id=record["command_id"], turbine_id=record["turbine_id"], edge_id=self.edge_id,
                            executed=ok, detail=detail)
        retrying = Retrying(retry=retry_if_exception(lambda e: isinstance(e, grpc.RpcError) and e.code() == grpc.StatusCode.UNAVAILABLE),
                            wait=wait_exponential_jitter(multiplier=0.2, max=5), stop=stop_after_delay(300), reraise=True)
        retrying(self._stub.AckCommand, msg, timeout=10)

    def poll_once(self, timeout_s: float = 1.0) -> int:
        """Handle what arrived; returns the number of this gateway's commands executed."""
        handled = 0
        for message in self._consumer.consume(100, timeout=timeout_s):
            if message.error() is not None:
                log.warning("commands topic: %s", message.error())
                continue
            if (message.key() or b"").decode() == self.edge_id:
                record = json.loads(message.value())
                ok, detail = self._execute(record)
                log.info("command %s %s on %s: %s", record["command_id"], record["command"], record["turbine_id"], detail)
                self._ack(record, ok, detail)
                self.executed.append(record)
                handled += 1
            self._consumer.commit(message, asynchronous=False)
        return handled

    def run(self) -> None:
        """Poll until ``stop()``, then close (the consumer leaves its group)."""
        try:
            while not self._stop.is_set():
                self.poll_once()
        finally:
            self.close()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close()
