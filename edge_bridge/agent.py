"""The edge agent: buffer first, forward in batches, retry with backoff and jitter, delete on ack."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_any, wait_exponential_jitter

from edge_bridge.buffer import Batch, BufferFullError, Overflow, ReadingBuffer
from edge_bridge.proto import ingest_pb2 as pb
from edge_bridge.proto import ingest_pb2_grpc as pb_grpc

log = logging.getLogger("anemos.agent")

#: statuses worth retrying: the bridge or Kafka is away, or the gateway is over its rate
TRANSIENT = {
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN,
}


def _transient(err: BaseException) -> bool:
    return isinstance(err, grpc.RpcError) and err.code() in TRANSIENT


@dataclass
class AgentMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.buffered = Gauge("anemos_agent_buffered_readings", "readings waiting in the buffer", registry=self.registry)
        self.forwarded = Counter("anemos_agent_forwarded_readings", "readings the bridge acknowledged", registry=self.registry)
        self.rejected = Counter("anemos_agent_rejected_readings", "readings the bridge dead-lettered", registry=self.registry)
        self.retries = Counter("anemos_agent_send_retries", "batch sends retried", registry=self.registry)
        self.buffer_full = Counter("anemos_agent_buffer_full", "times the buffer was full", registry=self.registry)
        self.quarantined = Counter("anemos_agent_quarantined_batches", "batches refused for good", registry=self.registry)

    def total(self, name: str) -> int:
        """The current total of counter ``anemos_agent_<name>``, read through the registry."""
        return int(self.registry.get_sample_value(f"anemos_agent_{name}_total") or 0)


class EdgeAgent:
    """One gateway's agent. ``submit`` buffers; a background thread forwards until ``stop``."""

    def __init__(
        self, target: str, edge_id: str, buffer_path: Path, *, credentials: grpc.ChannelCredentials | None,
        batch_size: int = 1000, capacity: int = 5_000_000, overflow: Overflow = Overflow.REJECT_NEW,
        max_backoff_s: float = 10.0, rpc_timeout_s: float = 30.0,
    ) -> None:
        self.edge_id = edge_id
        self.buffer = ReadingBuffer(buffer_path, capacity, overflow)
        self.metrics = AgentMetrics()
        self._target, self._credentials = target, credentials
        self._batch_size, self._max_backoff_s, self._rpc_timeout_s = batch_size, max_backoff_s, rpc_timeout_s
        self.rejected_by_reason: dict[str, int] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, readings: Sequence[pb.SensorReading]) -> None:
        try:
            self.buffer.put(readings)
        except BufferFullError:
            self.metrics.buffer_full.inc()
            raise
        self._wake.set()

    def start(self) -> "EdgeAgent":
        self._thread = threading.Thread(target=self._run, name=f"agent-{self.edge_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self, drain_s: float = 0.0) -> None:
        """Stop forwarding (after trying to drain for ``drain_s``); the buffer keeps the rest."""
        deadline = time.monotonic() + drain_s
        while drain_s and len(self.buffer) and time.monotonic() < deadline:
            time.sleep(0.1)
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=self._rpc_timeout_s + 5)
        self.buffer.close()

    def drained(self) -> bool:
        return len(self.buffer) == 0

    def _channel(self) -> grpc.Channel:
        if self._credentials is None:
            return grpc.insecure_channel(self._target)
        return grpc.secure_channel(self._target, self._credentials)

    def _run(self) -> None:
        with self._channel() as channel:
            stub = pb_grpc.IngestServiceStub(channel)
            while not self._stop.is_set():
                batch = self.buffer.next_batch(self._batch_size)
                self.metrics.buffered.set(len(self.buffer))
                if batch is None:
                    self._wake.wait(0.5)
                    self._wake.clear()
                    continue
                self._forward(stub, batch)

    def _forward(self, stub: pb_grpc.IngestServiceStub, batch: Batch) -> None:
        request = pb.TelemetryBatch(batch_id=batch.batch_id, edge_id=self.edge_id, readings=batch.readings)

        def count_retry(state: RetryCallState) -> None:
            self.metrics.retries.inc()
            log.info("batch %s: %s; retry %d", batch.batch_id, state.outcome.exception() if state.outcome else "?", state.attempt_number)

        retrying = Retrying(
            retry=retry_if_exception(_transient),
            wait=wait_exponential_jitter(multiplier=0.2, max=self._max_backoff_s),
            stop=stop_any(lambda _s: self._stop.is_set()),
            before_sleep=count_retry,
            reraise=True,
            sleep=lambda s: self._stop.wait(s),
        )
        try:
            ack = retrying(stub.SendTelemetryBatch, request, timeout=self._rpc_timeout_s, wait_for_ready=False)
        except grpc.RpcError as err:
            if _transient(err):
                return  # stopping: the batch stays buffered, with its id, for the next run
            log.error("batch %s refused for good (%s: %s); quarantined", batch.batch_id, err.code().name, err.details())
            self.buffer.quarantine(batch, f"{err.code().name}: {err.details()}", request.SerializeToString(), int(time.time() * 1000))
            self.metrics.quarantined.inc()
            return
        self.buffer.acknowledge(batch)
        self.metrics.forwarded.inc(ack.accepted)
        self.metrics.rejected.inc(len(ack.rejected))
        for rej in ack.rejected:
            self.rejected_by_reason[rej.reason_code] = self.rejected_by_reason.get(rej.reason_code, 0) + 1
