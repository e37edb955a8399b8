"""A small deterministic fleet: N readings over several turbines, sent in batches through gRPC."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from edge_bridge.proto import ingest_pb2 as pb
from edge_bridge.proto import ingest_pb2_grpc as pb_grpc
from edge_bridge.registry import Site, Turbine

if TYPE_CHECKING:
    from edge_bridge.commands import CommandListener
    from edge_bridge.fleet import Fleet
    from stack.settings import StackSettings
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
    """Send ``n`` generated readings in batches with the unary RPC; returns what the bridge acknowledged.

    ``credentials`` (mTLS) are required by a bridge that is not in plaintext mode.
    """
    return send_readings(target, readings(n, turbines, seed), batch_size, edge_id, on_batch, timeout_s, credentials)


def send_readings(
    target: str, rows: Iterable[pb.SensorReading], batch_size: int = 1000, edge_id: str = "edge-sim",
    on_batch: Callable[[int], None] | None = None, timeout_s: float = 60.0,
    credentials: grpc.ChannelCredentials | None = None,
) -> SendReport:
    """Send ``rows`` in order, in batches of ``batch_size``; returns what the bridge acknowledged."""
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

        for r in rows:
            batch.append(r)
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
    return report


# -- the fleet simulator ---------------------------------------------------------------------
class FleetSimulator:
    """Ticks every turbine of a fleet in event time; faults planned up front and labelled."""

    def __init__(self, fleet: "Fleet", seed: int, start_ms: int, step_s: float, horizon_s: float, fault_share: float) -> None:
        from edge_bridge.physics import TurbineSim, plan_faults

        rng = random.Random(seed)
        self.step_ms = int(step_s * 1000)
        self.t_ms = start_ms
        self.labels = plan_faults(fleet.turbines, start_ms, start_ms + int(horizon_s * 1000), fault_share, rng)
        by_turbine: dict[str, list] = {}
        for label in self.labels:
            by_turbine.setdefault(label.turbine_id, []).append(label)
        self.sims = [
            TurbineSim(t, fleet.climate[t.site_id], random.Random(f"{seed}/{t.turbine_id}"), by_turbine.get(t.turbine_id, []))
            for t in fleet.turbines
        ]

    def tick(self) -> dict[str, list[pb.SensorReading]]:
        """One step of every turbine, grouped by gateway."""
        out: dict[str, list[pb.SensorReading]] = {}
        for sim in self.sims:
            rows = sim.tick(self.t_ms, self.step_ms / 1000)
            if rows:
                out.setdefault(sim.turbine.edge_id, []).extend(
                    pb.SensorReading(turbine_id=sim.turbine.turbine_id, sensor_id=sid, sensor_type=kind, ts_unix_ms=ts, value=v)
                    for kind, sid, ts, v in rows
                )
        self.t_ms += self.step_ms
        return out


@dataclass
class FleetReport:
    generated: int = 0
    accepted: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    quarantined_batches: int = 0
    gateways: int = 0
    turbines: int = 0
    seconds: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)


def run_fleet(
    stack: "StackSettings", *, turbines: int, farms: int, seed: int, readings: int | None, duration_s: float | None,
    step_s: float = 1.0, fault_share: float = 0.05, on_progress: Callable[[int], None] | None = None,
    labels_out: Path | None = None, agents_dir: Path | None = None, command_gate: str | None = None,
    gate_plaintext: bool = False, commands_topic: str = "commands",
) -> FleetReport:
    """Register a fleet, then generate readings through one edge agent per gateway (mTLS).

    ``readings``: stop after that many, in simulated time ending now. Otherwise run in real
    time (one tick per ``step_s``) for ``duration_s`` seconds, or until interrupted. With a
    ``command_gate`` address, each gateway also executes its commands and acknowledges them there
    (over mTLS with its own certificate, unless ``gate_plaintext``).
    """
    import json
    from dataclasses import asdict

    from edge_bridge import fleet as fleet_mod
    from edge_bridge import registry
    from edge_bridge.agent import EdgeAgent
    from edge_bridge.certs import channel_credentials, ensure_dev_pki

    started = time.monotonic()
    fleet = fleet_mod.build(turbines, farms, seed)
    registry.register(stack.postgres_dsn, fleet.sites, fleet.turbines)
    per_tick = turbines * 12
    if readings is not None:
        ticks = max(1, -(-readings // per_tick))
        start_ms = int(time.time() * 1000) - int(ticks * step_s * 1000) - 60_000
        horizon_s = ticks * step_s
    else:
        start_ms, horizon_s = int(time.time() * 1000), duration_s or 3600.0
    sim = FleetSimulator(fleet, seed, start_ms, step_s, horizon_s, fault_share)
    if labels_out is not None:
        labels_out.write_text(json.dumps([{**asdict(x), "kind": x.kind.value} for x in sim.labels], indent=1))
    pki = ensure_dev_pki(stack.path("certs"))
    agents = {
        edge: EdgeAgent(stack.bridge_address, edge, (agents_dir or stack.path("agents")) / f"{edge}.db",
                        credentials=channel_credentials(pki.ca.cert, pki.edge(edge))).start()
        for edge in fleet.gateways()
    }
    listeners = []
    for edge in agents if command_gate else ():
        creds = None if gate_plaintext else channel_credentials(pki.ca.cert, pki.edge(edge))
        gate = grpc.secure_channel(command_gate, creds) if creds else grpc.insecure_channel(command_gate)
        listeners.append(_command_listener(stack, edge, gate, commands_topic, agents_dir))
    report = FleetReport(gateways=len(agents), turbines=turbines)
    for label in sim.labels:
        report.faults[label.kind.value] = report.faults.get(label.kind.value, 0) + 1
    deadline = time.monotonic() + duration_s if duration_s else None
    try:
        while True:
            if readings is not None and report.generated >= readings:
                break
            if readings is None and deadline is not None and time.monotonic() >= deadline:
                break
            tick_started = time.monotonic()
            for edge, rows in sim.tick().items():
                if readings is not None:
                    rows = rows[: max(0, readings - report.generated)]
                if rows:
                    agents[edge].submit(rows)
                    report.generated += len(rows)
                    if on_progress:
                        on_progress(len(rows))
            if readings is None:
                time.sleep(max(0.0, step_s - (time.monotonic() - tick_started)))
        while not all(a.drained() for a in agents.values()):
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass  # stop generating; what was generated is in the agents' buffers
    finally:
        for agent in agents.values():
            report.accepted += agent.metrics.total("forwarded_readings")
            for reason, n in agent.rejected_by_reason.items():
                report.rejected_by_reason[reason] = report.rejected_by_reason.get(reason, 0) + n
            report.quarantined_batches += agent.metrics.total("quarantined_batches")
            agent.stop()
        for listener in listeners:
            listener.stop()
    report.rejected = sum(report.rejected_by_reason.values())
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _command_listener(stack: "StackSettings", edge: str, gate: grpc.Channel, topic: str, agents_dir: Path | None) -> "CommandListener":
    """A gateway's command listener on its own thread, journaling to <agents>/<edge>.commands.jsonl."""
    import threading

    from edge_bridge.commands import CommandListener, JournalExecutor

    journal = JournalExecutor((agents_dir or stack.path("agents")) / f"{edge}.commands.jsonl")
    listener = CommandListener(stack.kafka_bootstrap, topic, edge, gate, journal)
    threading.Thread(target=listener.run, name=f"commands-{edge}", daemon=True).start()
    return listener
