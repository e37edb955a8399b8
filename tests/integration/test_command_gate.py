"""The command gate and the freeze monitor against the real Kafka, Postgres and Redis.

The Flink job is played here by its two traces the safety layer reads: last-known-good hashes
written with the job's own writer, and the job's committed offsets on the raw topic. The
scenario with the real job is tests/faults/test_safety_freeze.py.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from anemos.platform import Names
from edge_bridge.certs import channel_credentials, ensure_dev_pki
from edge_bridge.commands import CommandListener, JournalExecutor
from edge_bridge.proto import control_pb2 as pb
from edge_bridge.proto import control_pb2_grpc as pb_grpc
from edge_bridge.registry import Site, Turbine, register
from flink_jobs.ingest.sinks import LkgWriter
from safety.gate import GateServer
from safety.monitor import FreezeMonitor
from safety.settings import SafetySettings
from reliability.kafka_read import read_all
from stack.settings import StackSettings
from udfs.freeze import Freeze, FreezeEvent

pytestmark = pytest.mark.integration


class World:
    """A small registry (one protected turbine) and the job's traces, under a fresh tag."""

    def __init__(self, stack: StackSettings, names: Names) -> None:
        self.stack, self.names = stack, names
        tag = uuid.uuid4().hex[:6]
        self.tag, self.edge, self.group = tag, f"edge-{tag}", f"job-{tag}"
        self.s1, self.s2 = f"S{tag}a", f"S{tag}b"
        self.t1, self.t2, self.t3, self.t4 = (f"T{tag}-{i}" for i in range(1, 5))
        register(stack.postgres_dsn, [Site(self.s1, "A", "north", 54, 7), Site(self.s2, "B", "north", 55, 7)], [
            Turbine(self.t1, self.s1, "AN-3.6-130", 54, 7, self.edge),
            Turbine(self.t2, self.s1, "AN-3.6-130", 54, 7, self.edge, protected=True),
            Turbine(self.t3, self.s1, "AN-3.6-130", 54, 7, self.edge),
            Turbine(self.t4, self.s2, "AN-3.6-130", 55, 7, self.edge),
        ])
        self.lkg = LkgWriter(stack.redis_url, names.redis_prefix)

    def report(self, turbine: str, site: str, age_s: float = 0.0) -> None:
        at = int(time.time() * 1000 - age_s * 1000)
        self.lkg.write(turbine, site, {"WNAC.WdSpd": (8.5, at), "WTUR.W": (2100.0, at)})

    def all_report(self) -> None:
        for t, s in ((self.t1, self.s1), (self.t2, self.s1), (self.t3, self.s1), (self.t4, self.s2)):
            self.report(t, s)

    def produce_raw(self, n: int) -> None:
        producer = Producer({"bootstrap.servers": self.stack.kafka_bootstrap})
        for i in range(n):
            producer.produce(self.names.raw_topic, key=self.t1, value=b"x%d" % i)
        producer.flush(10)

    def job_catches_up(self) -> None:
        """What the Flink source does on a checkpoint: commit its offsets in the job's group."""
        c = Consumer({"bootstrap.servers": self.stack.kafka_bootstrap, "group.id": self.group, "enable.auto.commit": False})
        parts = c.list_topics(self.names.raw_topic, timeout=10).topics[self.names.raw_topic].partitions
        ends = [TopicPartition(self.names.raw_topic, p, c.get_watermark_offsets(TopicPartition(self.names.raw_topic, p), timeout=10)[1])
                for p in parts]
        c.commit(offsets=ends, asynchronous=False)
        c.close()


@pytest.fixture
def world(stack: StackSettings, names: Names) -> Iterator[World]:
    w = World(stack, names)
    yield w
    w.lkg.close()


def _settings(w: World, **kw: object) -> SafetySettings:
    base = dict(listen="127.0.0.1:0", plaintext=True, redis_prefix=w.names.redis_prefix, raw_topic=w.names.raw_topic,
                job_consumer_group=w.group, commands_topic=w.names.commands_topic, freezes_topic=w.names.freezes_topic,
                freeze_lag_records=20, thaw_lag_records=5, freeze_gap_s=60, thaw_gap_s=20, freeze_silence_s=30,
                thaw_silence_s=10, thaw_checks=2, max_lkg_age_s=20)
    return SafetySettings.from_stack(w.stack, **{**base, **kw})


def _refusal(call) -> tuple[grpc.StatusCode, str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as err:
        call()
    meta = dict(err.value.trailing_metadata() or ())
    return err.value.code(), err.value.details(), meta.get("anemos-command-id", "")


def _status(stack: StackSettings, command_id: str) -> str:
    with psycopg.connect(stack.postgres_dsn) as conn:
        return conn.execute("SELECT status FROM commands WHERE command_id = %s", (command_id,)).fetchone()[0]


def test_gate_decides_with_freezes_protection_staleness_and_two_people(stack: StackSettings, world: World, tmp_path: Path) -> None:
    w = world
    settings = _settings(w)
    w.all_report()
    monitor = FreezeMonitor(settings)
    server = GateServer(settings).start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    gate = pb_grpc.ControlServiceStub(channel)
    listener = CommandListener(stack.kafka_bootstrap, w.names.commands_topic, w.edge, channel, JournalExecutor(tmp_path / "commands.jsonl"))

    def ask(command: int, by: str = "alice", **target: object) -> pb.Decision:
        return gate.RequestCommand(pb.CommandRequest(command=command, requested_by=by, reason="test", **target), timeout=30)

    try:
        # no monitor heartbeat yet: the gate is blind and fails safe
        code, details, _ = _refusal(lambda: ask(pb.STOP, turbine_id=w.t1))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "failing safe" in details
        assert monitor.step() == []  # healthy: nothing frozen

        stop = ask(pb.STOP, turbine_id=w.t1)
        assert stop.outcome == "ACCEPTED" and list(stop.turbines) == [w.t1]
        deadline = time.monotonic() + 30
        while not listener.executed and time.monotonic() < deadline:
            listener.poll_once()
        assert [r["command_id"] for r in listener.executed] == [stop.command_id]
        assert _status(stack, stop.command_id) == "EXECUTED"

        code, details, _ = _refusal(lambda: ask(pb.START, turbine_id=w.t2))
        assert code == grpc.StatusCode.PERMISSION_DENIED and details.startswith("PROTECTED")
        assert _refusal(lambda: ask(pb.RESET, turbine_id=f"T{w.tag}-nope"))[0] == grpc.StatusCode.NOT_FOUND
        assert _refusal(lambda: ask(pb.CURTAIL, turbine_id=w.t1))[0] == grpc.StatusCode.INVALID_ARGUMENT

        deep = ask(pb.CURTAIL, turbine_id=w.t1, setpoint=0.2)
        assert deep.outcome == "PENDING_APPROVAL"
        approve = lambda cid, by: gate.ApproveCommand(pb.ApproveRequest(command_id=cid, approved_by=by), timeout=30)  # noqa: E731
        code, details, _ = _refusal(lambda: approve(deep.command_id, "Alice"))
        assert code == grpc.StatusCode.PERMISSION_DENIED and details.startswith("SAME_APPROVER")
        assert approve(deep.command_id, "bob").outcome == "ACCEPTED"
        assert _refusal(lambda: approve(deep.command_id, "carol"))[0] == grpc.StatusCode.FAILED_PRECONDITION  # not pending now

        site = ask(pb.STOP, site_id=w.s1)
        assert site.outcome == "PENDING_APPROVAL" and list(site.excluded) == [w.t2] and w.t2 not in site.turbines

        # the job falls behind: lag over the bound freezes everything
        w.produce_raw(30)
        events = monitor.step()
        assert [(e.kind, e.freeze.scope, e.freeze.reason) for e in events] == [("FROZEN", "all", "PROCESSING_LAG")]
        code, details, frozen_id = _refusal(lambda: ask(pb.STOP, turbine_id=w.t1))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and details.startswith("FROZEN: freeze all (PROCESSING_LAG")
        assert ask(pb.START, turbine_id=w.t1).outcome == "ACCEPTED"  # a freeze stops STOP and CURTAIL only
        code, details, _ = _refusal(lambda: approve(site.command_id, "bob"))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "FROZEN" in details

        # the job catches up: after two healthy looks the freeze thaws and STOP goes through
        w.job_catches_up()
        w.all_report()
        assert monitor.step() == []
        assert [(e.kind, e.freeze.scope) for e in monitor.step()] == [("THAWED", "all")]
        assert ask(pb.STOP, turbine_id=w.t1).outcome == "ACCEPTED"

        # one silent turbine freezes its own scope only (its hash rewritten as if last heard 45 s ago:
        # the job's writer itself never moves a hash back in event time)
        w.report(w.t1, w.s1), w.report(w.t2, w.s1), w.report(w.t4, w.s2)
        monitor.state.client.delete(f"{w.names.redis_prefix}:lkg:{w.t3}")
        w.report(w.t3, w.s1, age_s=45)
        assert [(e.kind, e.freeze.scope) for e in monitor.step()] == [("FROZEN", f"turbine:{w.t3}")]
        code, details, _ = _refusal(lambda: ask(pb.STOP, turbine_id=w.t3))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and f"turbine:{w.t3}" in details
        assert ask(pb.STOP, turbine_id=w.t4).outcome == "ACCEPTED"
        code, details, _ = _refusal(lambda: ask(pb.RESET, turbine_id=w.t3))  # RESET is not freeze-bound, but the state is stale
        assert details.startswith("STALE_STATE")

        # the monitor stops looking: its heartbeat expires and the gate fails safe again
        monitor.state.client.delete(f"{w.names.redis_prefix}:monitor:heartbeat")
        assert "failing safe" in _refusal(lambda: ask(pb.STOP, turbine_id=w.t4))[1]
    finally:
        listener.close()
        server.stop()
        monitor.close()
        channel.close()

    with psycopg.connect(stack.postgres_dsn) as conn:
        freezes = conn.execute("SELECT scope, kind FROM freeze_events WHERE scope IN ('all', %s) AND at > now() - interval '5 minutes' "
                               "ORDER BY id", (f"turbine:{w.t3}",)).fetchall()
        audit = conn.execute("SELECT event, actor FROM command_audit WHERE command_id = %s ORDER BY id", (deep.command_id,)).fetchall()
        refused = conn.execute("SELECT event, detail->>'code' FROM command_audit WHERE command_id = %s", (frozen_id,)).fetchall()
    assert freezes[-3:] == [("all", "FROZEN"), ("all", "THAWED"), (f"turbine:{w.t3}", "FROZEN")]
    assert audit == [("PENDING_APPROVAL", "alice"), ("APPROVAL_REFUSED", "Alice"), ("APPROVAL_ACCEPTED", "bob")]
    assert refused == [("REFUSED", "FROZEN")]
    published = [json.loads(m.value()) for m in read_all(stack.kafka_bootstrap, w.names.freezes_topic, expected=3, timeout_s=20)]
    assert [(p["kind"], p["scope"]) for p in published] == [("FROZEN", "all"), ("THAWED", "all"), ("FROZEN", f"turbine:{w.t3}")]


def test_over_mtls_the_caller_is_who_the_certificate_says(stack: StackSettings, world: World) -> None:
    w = world
    w.all_report()
    settings = _settings(w, plaintext=False)
    FreezeMonitor(settings).step()
    server = GateServer(settings).start()
    pki = ensure_dev_pki(stack.path("certs"))
    channel = grpc.secure_channel(f"127.0.0.1:{server.port}", channel_credentials(pki.ca.cert, pki.edge("alice")))
    gate = pb_grpc.ControlServiceStub(channel)
    try:
        req = lambda by: gate.RequestCommand(pb.CommandRequest(command=pb.START, turbine_id=w.t1, requested_by=by, reason="x"), timeout=30)  # noqa: E731
        code, details, _ = _refusal(lambda: req("bob"))
        assert code == grpc.StatusCode.PERMISSION_DENIED and "the certificate says 'alice'" in details
        assert req("alice").outcome == "ACCEPTED"
    finally:
        channel.close()
        server.stop()


def test_an_approval_after_the_window_is_refused_and_the_command_expires(stack: StackSettings, world: World) -> None:
    w = world
    w.all_report()
    settings = _settings(w, approval_ttl_s=1.0)
    FreezeMonitor(settings).step()
    server = GateServer(settings).start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    gate = pb_grpc.ControlServiceStub(channel)
    try:
        pending = gate.RequestCommand(pb.CommandRequest(command=pb.CURTAIL, turbine_id=w.t1, setpoint=0.1, requested_by="alice",
                                                        reason="grid order"), timeout=30)
        assert pending.outcome == "PENDING_APPROVAL" and pending.approval_expires_at_ms > 0
        time.sleep(1.5)
        code, details, _ = _refusal(lambda: gate.ApproveCommand(pb.ApproveRequest(command_id=pending.command_id, approved_by="bob"),
                                                                 timeout=30))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "EXPIRED" in details
        assert _status(stack, pending.command_id) == "EXPIRED"
    finally:
        channel.close()
        server.stop()


def test_a_freeze_event_kafka_did_not_take_is_kept_and_recorded_once_when_retried(stack: StackSettings, world: World) -> None:
    """The outbox survives a Kafka failure (a timed-out message counts as failed, though flush() returns 0), and
    the retry writes the Postgres row only once."""
    settings = _settings(world)
    monitor = FreezeMonitor(settings)
    scope = f"turbine:{world.t1}"
    event = FreezeEvent("FROZEN", Freeze(scope, "TELEMETRY_SILENCE", int(time.time() * 1000) - 5_000, "test"),
                        int(time.time() * 1000))
    working = monitor._producer
    monitor._producer = Producer({"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 1_000})  # nothing listens
    monitor._outbox.append(event)
    monitor._record()
    assert monitor._outbox == [event], "an event Kafka never acknowledged was dropped"
    monitor._producer = working
    monitor._record()
    assert monitor._outbox == []
    with psycopg.connect(stack.postgres_dsn) as conn:
        rows = conn.execute("SELECT count(*) FROM freeze_events WHERE scope = %s", (scope,)).fetchone()[0]
    assert rows == 1
    on_kafka = [json.loads(m.value()) for m in read_all(stack.kafka_bootstrap, settings.freezes_topic, expected=1, timeout_s=20)]
    assert [(e["kind"], e["scope"]) for e in on_kafka] == [("FROZEN", scope)]
