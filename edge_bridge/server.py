"""Run the bridge: gRPC server (mTLS), health and reflection, metrics, graceful drain."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures

import grpc
from confluent_kafka.schema_registry import SchemaRegistryClient
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from edge_bridge.directory import EdgeDirectory
from edge_bridge.heartbeat import Heartbeats
from edge_bridge.limits import RateLimiter
from edge_bridge.metrics import BridgeMetrics
from edge_bridge.producer import ReadingProducer
from edge_bridge.proto import ingest_pb2, ingest_pb2_grpc
from edge_bridge.service import IngestService
from edge_bridge.settings import BridgeSettings

log = logging.getLogger("anemos.bridge")

SERVICE_NAME = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name


def server_credentials(settings: BridgeSettings) -> grpc.ServerCredentials:
    assert settings.tls_cert and settings.tls_key and settings.tls_client_ca
    return grpc.ssl_server_credentials(
        [(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())],
        root_certificates=settings.tls_client_ca.read_bytes(),
        require_client_auth=True,
    )


class Bridge:
    """A running bridge; ``stop()`` drains in-flight batches before closing the producer."""

    def __init__(self, settings: BridgeSettings) -> None:
        self.settings = settings
        self.metrics = BridgeMetrics()
        self.producer = ReadingProducer(
            settings.bootstrap_servers, SchemaRegistryClient({"url": settings.registry_url}),
            raw_topic=settings.raw_topic, dlq_topic=settings.dlq_topic,
        )
        directory = None if settings.plaintext else EdgeDirectory(settings.registry_dsn or "")
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="ingest"),
            options=[
                ("grpc.max_receive_message_length", settings.max_message_bytes),
                ("grpc.max_concurrent_streams", 256),
            ],
        )
        service = IngestService(
            self.producer, max_batch=settings.max_batch_readings, ack_timeout_s=settings.ack_timeout_s,
            metrics=self.metrics, limiter=RateLimiter(settings.rate_limit_readings_per_s, settings.rate_limit_burst),
            directory=directory,
        )
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(service, self.server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection((SERVICE_NAME, reflection.SERVICE_NAME, health.SERVICE_NAME), self.server)
        if settings.plaintext:
            self.port = self.server.add_insecure_port(settings.listen)
        else:
            self.port = self.server.add_secure_port(settings.listen, server_credentials(settings))
        self.metrics_port: int | None = None
        self.heartbeats: Heartbeats | None = None
        if settings.heartbeat_interval_s > 0:
            self.heartbeats = Heartbeats(self.producer.producer, settings.raw_topic, self.producer.clock,
                                         settings.heartbeat_interval_s, settings.heartbeat_quiet_s, on_sent=self._sent_heartbeats)

    def _sent_heartbeats(self, n: int) -> None:
        self.metrics.heartbeats.inc(n)
        self.metrics.fleet_event_time.set(self.producer.clock.event_time_ms or 0)

    def start(self) -> "Bridge":
        self.server.start()
        if self.heartbeats is not None:
            self.heartbeats.start()
        if self.settings.metrics_port is not None:
            http, _thread = start_http_server(self.settings.metrics_port, addr="127.0.0.1", registry=self.metrics.registry)
            self.metrics_port = http.server_port
            self._metrics_http = http
        self.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        mode = "plaintext, loopback development mode" if self.settings.plaintext else "mTLS, client certificates required"
        host = self.settings.listen.rsplit(":", 1)[0]
        beats = (f"heartbeats every {self.settings.heartbeat_interval_s:g}s to partitions quiet for "
                 f"{self.settings.heartbeat_quiet_s:g}s" if self.heartbeats else "no heartbeats")
        log.info("edge bridge listening on %s:%d (%s); metrics on %s; %s", host, self.port, mode, self.metrics_port or "off", beats)
        return self

    def stop(self, grace_s: float = 30.0) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace_s).wait()
        if self.heartbeats is not None:
            self.heartbeats.stop()
        left = self.producer.close()
        if self.metrics_port is not None:
            self._metrics_http.shutdown()
        log.info("edge bridge stopped; %d records left undelivered", left)


def serve(settings: BridgeSettings) -> None:
    bridge = Bridge(settings).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    bridge.stop()
