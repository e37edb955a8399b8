"""A small deterministic fleet: N readings over several turbines, sent in batches through gRPC."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import grpc

from edge_bridge.proto import ingest_pb2 as pb
from edge_bridge.proto import ingest_pb2_grpc as pb_grpc
from edge_bridge.registry import Site, Turbine
from udfs.channels import CHANNELS
from udfs.identity import msg_id


@dataclass
class SendReport:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    accepted_ids: set[str] = field(default_factory=set)


def turbine_id(seed: int, index: int) -> str:
    return f"T{seed:03d}-{index:04d}"


def small_fleet(seed: int, turbines: int, edge_id: str) -> tuple[list[Site], list[Turbine]]:
    """The registry entries for the turbines ``readings`` sends for: one site, one gateway."""
    site = Site(f"S{seed:03d}", f"Demo farm {seed}", "north-sea", 54.0, 7.0)
    return [site], [
        Turbine(turbine_id(seed, i), site.site_id, "AN-3.6-130", 54.0 + i * 0.001, 7.0, edge_id) for i in range(turbines)
    ]


def readings(n: int, turbines: int, seed: int, start_ms: int | None = None) -> Iterator[pb.SensorReading]:
    """``n`` distinct readings, round-robin over turbines and channels, one second apart per turbine."""
    rng = random.Random(seed)
    start = start_ms if start_ms is not None else int(time.time() * 1000) - n // max(turbines, 1) * 1000 - 60_000
    channels = list(CHANNELS.values())
    for i in range(n):
        turbine = turbine_id(seed, i % turbines)
        ch = channels[(i // turbines) % len(channels)]
        step = i // (turbines * len(channels))
        value = rng.uniform(ch.low, ch.high)
        yield pb.SensorReading(turbine_id=turbine, sensor_id=f"{ch.name}.1", sensor_type=ch.name,
                               ts_unix_ms=start + step * 1000, value=value)


def send(
    target: str, n: int, turbines: int = 5, batch_size: int = 1000, seed: int = 1, edge_id: str = "edge-sim",
    on_batch: Callable[[int], None] | None = None, timeout_s: float = 60.0,
    credentials: grpc.ChannelCredentials | None = None,
) -> SendReport:
    """Send ``n`` readings in batches with the unary RPC; returns what the bridge acknowledged.

    ``credentials`` (mTLS) are required by a bridge that is not in plaintext mode.
    """
    report = SendReport()
    channel_ctx = grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
    with channel_ctx as channel:
        stub = pb_grpc.IngestServiceStub(channel)
        batch: list[pb.SensorReading] = []

        def flush() -> None:
            req = pb.TelemetryBatch(batch_id=str(uuid.uuid4()), edge_id=edge_id, readings=batch)
            ack = stub.SendTelemetryBatch(req, timeout=timeout_s, wait_for_ready=True)
            report.sent += len(batch)
            report.accepted += ack.accepted
            report.rejected += len(ack.rejected)
            bad = {r.index for r in ack.rejected}
            report.accepted_ids.update(
                msg_id(r.turbine_id, r.sensor_id, r.ts_unix_ms) for i, r in enumerate(batch) if i not in bad
            )
            if on_batch:
                on_batch(len(batch))
            batch.clear()

        for r in readings(n, turbines, seed):
            batch.append(r)
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
    return report
