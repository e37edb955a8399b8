"""Run the bridge: gRPC server with health and reflection, producer, graceful drain."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures

import grpc
from confluent_kafka.schema_registry import SchemaRegistryClient
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from edge_bridge.producer import ReadingProducer
from edge_bridge.proto import ingest_pb2, ingest_pb2_grpc
from edge_bridge.service import IngestService
from edge_bridge.settings import BridgeSettings

log = logging.getLogger("anemos.bridge")

SERVICE_NAME = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name


class Bridge:
    """A running bridge; ``stop()`` drains in-flight batches before closing the producer."""

    def __init__(self, settings: BridgeSettings) -> None:
        if not settings.plaintext:
            raise NotImplementedError("mTLS is configured by the edge-security work; set plaintext for loopback use")
        self.settings = settings
        self.producer = ReadingProducer(
            settings.bootstrap_servers, SchemaRegistryClient({"url": settings.registry_url}),
            raw_topic=settings.raw_topic, dlq_topic=settings.dlq_topic,
        )
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="ingest"),
            options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)],
        )
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(
            IngestService(self.producer, settings.max_batch_readings, settings.ack_timeout_s), self.server
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection((SERVICE_NAME, reflection.SERVICE_NAME, health.SERVICE_NAME), self.server)
        self.port = self.server.add_insecure_port(settings.listen)

    def start(self) -> "Bridge":
        self.server.start()
        self.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        log.info("edge bridge listening on %s (plaintext, loopback development mode)", self.settings.listen)
        return self

    def stop(self, grace_s: float = 30.0) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace_s).wait()
        left = self.producer.close()
        log.info("edge bridge stopped; %d records left undelivered", left)


def serve(settings: BridgeSettings) -> None:
    bridge = Bridge(settings).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    bridge.stop()
