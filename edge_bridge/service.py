"""The IngestService servicer: check the batch, validate, produce, answer after Kafka's ack."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import wait

import grpc

from edge_bridge import mapping
from edge_bridge.producer import ProduceError, ReadingProducer
from edge_bridge.proto import ingest_pb2 as pb
from edge_bridge.proto import ingest_pb2_grpc as pb_grpc
from udfs.validation import Limits

log = logging.getLogger(__name__)


class IngestService(pb_grpc.IngestServiceServicer):
    def __init__(self, producer: ReadingProducer, max_batch: int, ack_timeout_s: float, limits: Limits = Limits()) -> None:
        self._producer = producer
        self._max_batch = max_batch
        self._ack_timeout_s = ack_timeout_s
        self._limits = limits

    def _handle(self, batch: pb.TelemetryBatch, context: grpc.ServicerContext) -> pb.Ack:
        try:
            mapping.check_shape(batch, self._max_batch)
        except mapping.BatchShapeError as err:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        now_ms = int(time.time() * 1000)
        mapped = mapping.map_batch(batch, now_ms, self._limits)
        futures = self._producer.send_readings([r for _, r in mapped.accepted])
        futures += [
            self._producer.send_dead_letter(batch.edge_id, mapping.dead_letter(batch, rej, raw, now_ms))
            for _, rej, raw in mapped.rejected
        ]
        done, pending = wait(futures, timeout=self._ack_timeout_s)
        failed = [f.exception() for f in done if f.exception() is not None]
        if pending or failed:
            why = f"{len(pending)} not acknowledged in {self._ack_timeout_s:.0f}s" if pending else str(failed[0])
            log.warning("batch %s from %s not acknowledged by Kafka: %s", batch.batch_id, batch.edge_id, why)
            context.abort(grpc.StatusCode.UNAVAILABLE, f"Kafka did not acknowledge the batch ({why}); retry it")
        if mapped.rejected:
            log.info("batch %s: %d rejected readings sent to the dead-letter topic", batch.batch_id, len(mapped.rejected))
        return mapping.to_ack(batch, len(mapped.accepted), mapped.rejected)

    def SendTelemetryBatch(self, request: pb.TelemetryBatch, context: grpc.ServicerContext) -> pb.Ack:  # noqa: N802
        return self._handle(request, context)

    def StreamTelemetry(  # noqa: N802
        self, request_iterator: Iterator[pb.TelemetryBatch], context: grpc.ServicerContext
    ) -> Iterator[pb.Ack]:
        for batch in request_iterator:
            yield self._handle(batch, context)


__all__ = ["IngestService", "ProduceError"]
