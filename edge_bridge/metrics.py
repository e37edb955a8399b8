"""Prometheus metrics of the bridge (scraped from --metrics-port)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class BridgeMetrics:
    """One set per bridge, on its own registry (tests run several bridges in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter("anemos_bridge_readings_accepted", "readings Kafka acknowledged", registry=self.registry)
        self.rejected = Counter(
            "anemos_bridge_readings_rejected", "readings refused, by reason", ["reason"], registry=self.registry
        )
        self.batches = Counter("anemos_bridge_batches", "batches answered, by gRPC status", ["status"], registry=self.registry)
        self.batch_size = Histogram(
            "anemos_bridge_batch_readings", "readings per batch", buckets=(1, 10, 100, 500, 1000, 5000, 10000, 50000),
            registry=self.registry,
        )
        self.produce_latency = Histogram(
            "anemos_bridge_produce_seconds", "from produce to Kafka's acknowledgement of a whole batch",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=self.registry,
        )
        self.heartbeats = Counter(
            "anemos_bridge_heartbeats", "heartbeats sent to quiet partitions of the raw topic", registry=self.registry
        )
        self.fleet_event_time = Gauge(
            "anemos_bridge_fleet_event_time_ms", "latest event time of a reading Kafka acknowledged (heartbeats carry it)",
            registry=self.registry,
        )
        self.in_flight = Gauge("anemos_bridge_batches_in_flight", "batches being handled", registry=self.registry)
