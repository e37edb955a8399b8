"""The safety freeze with the real stream job: a silent turbine freezes its own scope; the job stopped
while turbines keep sending freezes everything and the gate refuses STOP; the job restored from its
checkpoint catches up, the freeze thaws, and the STOP is accepted and reaches the edge agent."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import grpc
import pytest

from anemos.platform import Names
from edge_bridge.commands import CommandListener, JournalExecutor
from edge_bridge.proto import control_pb2 as pb
from edge_bridge.proto import control_pb2_grpc as pb_grpc
from edge_bridge.proto import ingest_pb2
from edge_bridge.registry import register
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from edge_bridge.simulator import send_readings, small_fleet
from safety.gate import GateServer
from safety.monitor import FreezeMonitor
from safety.settings import SafetySettings
from stack.settings import StackSettings
from reliability.pipeline import new_job
from udfs.channels import CHANNELS

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]

TURBINES = 6
#: bounds this test holds the platform to (seconds of wall clock)
FREEZE_WITHIN_S = 60  # from the job's stop to the freeze of everything
SILENT_FREEZE_WITHIN_S = 60  # from a turbine's last reading to its own freeze
THAW_WITHIN_S = 360  # from the job's restart (JVM start and restore included) to the thaw


class LiveFleet:
    """Every turbine sends all its channels once a second, at the wall clock, until stopped or silenced."""

    def __init__(self, target: str, turbines: list[str], edge_id: str) -> None:
        self.target, self.turbines, self.edge_id = target, turbines, edge_id
        self.silent: set[str] = set()
        self.sent = 0
        self._stop = threading.Event()
        self._rng = random.Random(7)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tick(self) -> list[ingest_pb2.SensorReading]:
        now = int(time.time() * 1000)
        return [ingest_pb2.SensorReading(turbine_id=t, sensor_id=f"{c.name}.1", sensor_type=c.name, ts_unix_ms=now,
                                         value=self._rng.uniform(c.low + (c.high - c.low) * 0.2, c.high - (c.high - c.low) * 0.2))
                for t in self.turbines if t not in self.silent for c in CHANNELS.values()]

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.sent += send_readings(self.target, self._tick(), batch_size=1000, edge_id=self.edge_id).accepted
            self._stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    def start(self) -> "LiveFleet":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def _wait(what: str, check, timeout_s: float, monitor: FreezeMonitor) -> float:  # type: ignore[no-untyped-def]
    """Step the monitor every 2 s until ``check()``; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        monitor.step()
        if check():
            return time.monotonic() - started
        time.sleep(2)
    raise AssertionError(f"{what} not within {timeout_s}s; last look {monitor.last}; frozen {sorted(monitor.state.freezes())}")


def test_job_stop_freezes_the_gate_and_restore_thaws_it(stack: StackSettings, names: Names, tmp_path: Path) -> None:
    edge = f"edge-{names.namespace[-6:]}"
    sites, turbines = small_fleet(int(names.namespace[-4:], 16) % 997, TURBINES, edge)
    register(stack.postgres_dsn, sites, turbines)
    ids = [t.turbine_id for t in turbines]
    live, silent = ids[0], ids[-1]
    bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic,
                                              dlq_topic=names.dlq_topic)).start()
    job = new_job(stack, names, tmp_path, interval_ms=2_000)
    settings = SafetySettings.from_stack(
        stack, listen="127.0.0.1:0", plaintext=True, redis_prefix=names.redis_prefix, raw_topic=names.raw_topic,
        job_consumer_group=job.consumer_group, commands_topic=names.commands_topic, freezes_topic=names.freezes_topic,
        freeze_lag_records=1_500, thaw_lag_records=600, freeze_gap_s=40, thaw_gap_s=20, freeze_silence_s=25,
        thaw_silence_s=10, thaw_checks=2, max_lkg_age_s=30,
    )
    monitor = FreezeMonitor(settings)
    gate_server = GateServer(settings).start()
    channel = grpc.insecure_channel(f"127.0.0.1:{gate_server.port}")
    gate = pb_grpc.ControlServiceStub(channel)
    agent = CommandListener(stack.kafka_bootstrap, names.commands_topic, edge, channel,
                            JournalExecutor(tmp_path / "commands.jsonl"))
    fleet = LiveFleet(f"127.0.0.1:{bridge.port}", ids, edge)

    def stop(turbine: str) -> pb.Decision:
        return gate.RequestCommand(pb.CommandRequest(command=pb.STOP, turbine_id=turbine, requested_by="operator",
                                                     reason="blade inspection"), timeout=30)

    def refused(turbine: str) -> str:
        with pytest.raises(grpc.RpcError) as err:
            stop(turbine)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION, err.value.details()
        return err.value.details()

    frozen = lambda: monitor.state.freezes()  # noqa: E731
    try:
        job.start()
        job.wait_submitted()
        fleet.start()
        _wait("the platform seen healthy", lambda: not frozen() and len(monitor.last.turbine_last_ms) == TURBINES, 300, monitor)

        # one turbine goes silent: its own scope freezes, nothing else
        fleet.silent.add(silent)
        took = _wait("the silent turbine's freeze", lambda: f"turbine:{silent}" in frozen(), SILENT_FREEZE_WITHIN_S, monitor)
        assert set(frozen()) == {f"turbine:{silent}"}, frozen()
        assert "turbine:" + silent in refused(silent)
        print(f"silent turbine frozen {took:.0f}s after its last reading")

        # the job stops while the turbines keep sending: everything freezes, STOP is refused
        job.stop()
        took = _wait("the freeze of everything", lambda: "all" in frozen(), FREEZE_WITHIN_S, monitor)
        print(f"job stopped: frozen {took:.0f}s later ({frozen()['all'].reason})")
        assert refused(live).startswith("FROZEN: freeze all")

        # restored from its checkpoint, the job catches up; the freeze thaws; the STOP goes through to the edge
        job.start(restore_latest=True)
        job.wait_submitted()
        took = _wait("the thaw", lambda: "all" not in frozen(), THAW_WITHIN_S, monitor)
        print(f"job restored: thawed {took:.0f}s after the restart")
        assert f"turbine:{silent}" in frozen(), "the silent turbine stays frozen"
        decision = stop(live)
        assert decision.outcome == "ACCEPTED"
        deadline = time.monotonic() + 30
        while not agent.executed and time.monotonic() < deadline:
            agent.poll_once()
        assert [(r["command_id"], r["turbine_id"], r["command"]) for r in agent.executed] == [(decision.command_id, live, "STOP")]
    finally:
        fleet.stop()
        job.stop()
        agent.close()
        gate_server.stop()
        monitor.close()
        channel.close()
        bridge.stop()
    assert "restored_from=file:" in (tmp_path / "job.log").read_text()
