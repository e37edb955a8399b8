"""The IngestService servicer: authenticate, check, validate, produce, answer after Kafka's ack."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import grpc

from edge_bridge import mapping
from edge_bridge.directory import EdgeDirectory
from edge_bridge.limits import RateLimiter
from edge_bridge.metrics import BridgeMetrics
from edge_bridge.producer import ReadingProducer
from edge_bridge.proto import ingest_pb2 as pb
from edge_bridge.proto import ingest_pb2_grpc as pb_grpc
from udfs.validation import ID_PATTERN, Limits

log = logging.getLogger(__name__)


def peer_identity(context: grpc.ServicerContext) -> str | None:
    """The Common Name of the verified client certificate, or None on a plaintext channel."""
    names = context.auth_context().get("x509_common_name")
    return names[0].decode() if names else None


class IngestService(pb_grpc.IngestServiceServicer):
    def __init__(
        self, producer: ReadingProducer, *, max_batch: int, ack_timeout_s: float, metrics: BridgeMetrics,
        limiter: RateLimiter, directory: EdgeDirectory | None, limits: Limits = Limits(),
    ) -> None:
        self._producer = producer
        self._max_batch = max_batch
        self._ack_timeout_s = ack_timeout_s
        self._metrics = metrics
        self._limiter = limiter
        self._directory = directory
        self._limits = limits

    def _abort(self, context: grpc.ServicerContext, code: grpc.StatusCode, msg: str) -> None:
        self._metrics.batches.labels(code.name).inc()
        context.abort(code, msg)

    def _authorize(self, batch: pb.TelemetryBatch, context: grpc.ServicerContext) -> None:
        if self._directory is None:
            return  # plaintext development mode: no identity to authorize
        identity = peer_identity(context)
        if identity is None:
            self._abort(context, grpc.StatusCode.UNAUTHENTICATED, "no verified client certificate")
        if batch.edge_id != identity:
            log.warning("gateway %r sent a batch as %r: refused", identity, batch.edge_id[:80])
            self._abort(context, grpc.StatusCode.PERMISSION_DENIED, f"certificate is for {identity!r}, batch claims {batch.edge_id!r:.80}")
        # malformed ids are not an authorization question: they go to the dead-letter topic
        named = (r.turbine_id for r in batch.readings if ID_PATTERN.fullmatch(r.turbine_id))
        denied = self._directory.denied(identity, named)
        if denied:
            shown = sorted(repr(t[:64]) for t in denied)[:5]
            log.warning("gateway %r sent for %d turbines not registered to it (%s): batch %r refused",
                        identity, len(denied), ", ".join(shown), batch.batch_id[:64])
            self._abort(context, grpc.StatusCode.PERMISSION_DENIED,
                        f"{len(denied)} turbines are not registered to gateway {identity!r}: {', '.join(shown)}")

    def _handle(self, batch: pb.TelemetryBatch, context: grpc.ServicerContext) -> pb.Ack:
        n = len(batch.readings)
        if n > self._max_batch:
            self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, f"batch has {n} readings, more than {self._max_batch}")
        try:
            mapping.check_shape(batch, self._max_batch)
        except mapping.BatchShapeError as err:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(err))
        self._authorize(batch, context)
        if not self._limiter.allow(batch.edge_id, n):
            self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, f"gateway {batch.edge_id!r} is over its rate limit; retry later")
        self._metrics.batch_size.observe(n)
        now_ms = int(time.time() * 1000)
        mapped = mapping.map_batch(batch, now_ms, self._limits)
        started = time.perf_counter()
        delivery = self._producer.send(
            [r for _, r in mapped.accepted],
            [(batch.edge_id, mapping.dead_letter(batch, rej, raw, now_ms)) for _, rej, raw in mapped.rejected],
        )
        if not delivery.wait(self._ack_timeout_s) or delivery.error is not None:
            why = str(delivery.error) if delivery.error else f"{delivery.pending} not acknowledged in {self._ack_timeout_s:.0f}s"
            log.warning("batch %s from %s not acknowledged by Kafka: %s", batch.batch_id, batch.edge_id, why)
            self._abort(context, grpc.StatusCode.UNAVAILABLE, f"Kafka did not acknowledge the batch ({why}); retry it")
        self._metrics.produce_latency.observe(time.perf_counter() - started)
        self._metrics.accepted.inc(len(mapped.accepted))
        for _, rej, _raw in mapped.rejected:
            self._metrics.rejected.labels(rej.reason_code).inc()
        self._metrics.batches.labels("OK").inc()
        if mapped.rejected:
            log.info("batch %s: %d rejected readings sent to the dead-letter topic", batch.batch_id, len(mapped.rejected))
        return mapping.to_ack(batch, len(mapped.accepted), mapped.rejected)

    def SendTelemetryBatch(self, request: pb.TelemetryBatch, context: grpc.ServicerContext) -> pb.Ack:  # noqa: N802
        with self._metrics.in_flight.track_inprogress():
            return self._handle(request, context)

    def StreamTelemetry(  # noqa: N802
        self, request_iterator: Iterator[pb.TelemetryBatch], context: grpc.ServicerContext
    ) -> Iterator[pb.Ack]:
        for batch in request_iterator:
            with self._metrics.in_flight.track_inprogress():
                ack = self._handle(batch, context)
            yield ack


__all__ = ["IngestService", "peer_identity"]
