"""The chaos runner: the oracle's scenario streams through bridge -> Kafka -> the job on the standalone cluster
-> every sink, paced over N minutes, while faults from ``reliability.faults`` hit a random part every 30 to
60 seconds. Then the oracle checks points a to f, and each fault's recovery is timed to the next Iceberg
commit (point g).

Seeded: the scenario, the order of the faults, the gaps and the hold times all come from ``seed``. The first
faults go through every chosen kind once (in a seeded order), so even a short run covers them all.
"""

from __future__ import annotations

import json
import logging
import random
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import grpc
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential_jitter

from anemos import platform
from anemos.platform import Names
from cluster.flink import FlinkCluster
from edge_bridge import simulator
from edge_bridge.proto import ingest_pb2 as pb
from iceberg.catalog import open_catalog
from reliability import faults as F
from reliability import oracle
from reliability import scenario as ref
from stack import manager
from stack.manager import catalog_properties
from stack.settings import PROJECT_ROOT, StackSettings

log = logging.getLogger("anemos.chaos")

RESULTS = PROJECT_ROOT / "reliability" / "results" / "chaos.json"
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}


@dataclass
class ChaosSettings:
    minutes: float = 15.0
    seed: int = 1
    faults: list[F.Fault] = field(default_factory=lambda: list(F.FAULTS.values()))
    gap_s: tuple[float, float] = (30.0, 60.0)
    recovery_bound_s: float = 180.0  # (g): from the fault's end to the next Iceberg commit
    parallelism: int = 2
    checkpoint_interval_ms: int = 3_000
    idle_timeout_s: int | None = None  # the job's own default unless set (10 shows what a broker kill did before)

    @property
    def event_minutes(self) -> int:
        """Event time the scenario spans: 4 per wall minute (20 to 120), so the stream is there to break."""
        return int(min(120, max(ref.MINUTES, 4 * self.minutes)))


@dataclass
class Injected:
    fault: str
    at_s: float  # from the start of the stream
    detail: str
    outage_s: float
    recovered_s: float | None  # from the fault's end to the next Iceberg commit of the raw table
    error: str = ""


@dataclass
class ChaosReport:
    seed: int
    minutes: float
    started_at: str
    injected: list[Injected]
    problems: list[str]
    counts: dict[str, int]
    restored_from_checkpoint: int
    recovery_bound_s: float

    @property
    def ok(self) -> bool:
        return not self.problems and all(
            i.error == "" and i.recovered_s is not None and i.recovered_s <= self.recovery_bound_s for i in self.injected)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def job_args(names: Names, checkpoint_dir: Path, tag: str, parallelism: int, interval_ms: int) -> list[str]:
    """The stream job's flags for an isolated pipeline on the cluster (it resumes from the latest checkpoint
    in ``checkpoint_dir`` if there is one: ``--restore-from auto``)."""
    return ["--raw-topic", names.raw_topic, "--dlq-topic", names.dlq_topic, "--aggregates-topic", names.aggregates_topic,
            "--alerts-topic", names.alerts_topic, "--namespace", names.namespace, "--redis-prefix", names.redis_prefix,
            "--checkpoint-dir", str(checkpoint_dir), "--consumer-group", f"chaos-{tag}", "--job-name", f"chaos-{tag}",
            "--checkpoint-interval-ms", str(interval_ms), "--parallelism", str(parallelism),
            "--loss-after-ms", str(ref.LOSS_AFTER_MS)]


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, grpc.RpcError) and exc.code() in RETRYABLE


@retry(retry=retry_if_exception(_retryable), wait=wait_exponential_jitter(multiplier=1, max=15, jitter=2),
       stop=stop_after_delay(900), reraise=True)
def send_acknowledged(target: str, batch: list[pb.SensorReading]) -> simulator.SendReport:
    """One batch, re-sent until the bridge acknowledges it (as an edge agent does through an outage)."""
    return simulator.send_readings(target, batch, batch_size=len(batch), edge_id="edge-oracle", timeout_s=30)


class PacedSender(threading.Thread):
    """Sends the scenario's on-time readings, then its duplicates, evenly over ``seconds``."""

    def __init__(self, target: str, sc: ref.Scenario, seconds: float, batch: int = 500) -> None:
        super().__init__(name="chaos-sender", daemon=True)
        self.target, self.seconds = target, seconds
        rows = sc.ontime + sc.duplicates
        self.batches = [rows[i:i + batch] for i in range(0, len(rows), batch)]
        self.accepted: set[str] = set()
        self.rejected = 0
        self.sent_batches = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        started = time.monotonic()
        try:
            for i, batch in enumerate(self.batches):
                time.sleep(max(0.0, started + i * self.seconds / len(self.batches) - time.monotonic()))
                report = send_acknowledged(self.target, batch)
                self.accepted |= report.accepted_ids
                self.rejected += report.rejected
                self.sent_batches += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the runner
            self.error = exc


def _readings_snapshot(stack: StackSettings, names: Names) -> int | None:
    snap = open_catalog(catalog_properties(stack)).load_table(names.readings_table).current_snapshot()
    return snap.snapshot_id if snap else None


def time_to_next_commit(stack: StackSettings, names: Names, before: int | None, bound_s: float) -> float | None:
    """Seconds until the raw table has a snapshot other than ``before`` (None past the bound)."""
    started = time.monotonic()
    while time.monotonic() - started < bound_s:
        try:
            if _readings_snapshot(stack, names) != before:
                return time.monotonic() - started
        except Exception as exc:  # noqa: BLE001 - the catalog may still be coming back
            log.debug("catalog not answering yet: %s", exc)
        time.sleep(1)
    return None


def _commit() -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=PROJECT_ROOT,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(stack: StackSettings, cs: ChaosSettings, on_event: Callable[[str], None] = log.info,
        work_dir: Path | None = None) -> ChaosReport:
    """The whole run; raises only when the platform cannot be started (a fault's failure is in the report)."""
    rng = random.Random(cs.seed)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manager.up(stack)
    cluster = FlinkCluster(stack)
    cluster.up()
    tag = uuid.uuid4().hex[:8]
    names = Names.isolated(tag, kind="chaos")
    platform.ensure(stack, names)
    sc = ref.build(tag, seed=cs.seed, minutes=cs.event_minutes)
    oracle.register_scenario(stack, sc)
    work = work_dir or stack.path("chaos", tag)
    bridge = oracle.local_bridge(stack, names)
    target = f"127.0.0.1:{bridge.port}"
    on_event(f"pipeline chaos-{tag}: {len(sc.ontime):,} readings ({cs.event_minutes} min of event time) over "
             f"{cs.minutes:g} min; faults {', '.join(f.name for f in cs.faults)}")
    args = job_args(names, work / "checkpoints", tag, cs.parallelism, cs.checkpoint_interval_ms)
    if cs.idle_timeout_s is not None:
        args += ["--idle-timeout-s", str(cs.idle_timeout_s)]
    job_id = cluster.submit(args, work / "submit.log")
    injected: list[Injected] = []
    try:
        cluster.wait_running(job_id)
        sender = PacedSender(target, sc, cs.minutes * 60)
        t0 = time.monotonic()
        sender.start()
        first = time_to_next_commit(stack, names, None, 300)
        on_event(f"job {job_id} running; first Iceberg commit {first if first is None else round(first)}s after the stream began")
        order = rng.sample(cs.faults, len(cs.faults))
        while True:
            gap = rng.uniform(*cs.gap_s)
            if time.monotonic() + gap - t0 > cs.minutes * 60:
                break
            time.sleep(gap)
            fault = order.pop(0) if order else rng.choice(cs.faults)
            hold = rng.uniform(*fault.hold_s)
            injected.append(_inject(stack, cluster, names, job_id, fault, rng, hold, t0, cs.recovery_bound_s, on_event))
        sender.join()
        if sender.error is not None:
            raise RuntimeError(f"the sender gave up: {sender.error!r}")
        sent = oracle.Sent(sender.accepted, oracle.send_poison(stack, names, sc))
        on_event(f"stream sent: {len(sent.accepted):,} readings acknowledged, {sender.rejected} refused; checking the oracle")
        problems = oracle.finish(stack, names, target, sc, sent)
        state = cluster.job(job_id).get("state")
        if state != "RUNNING":
            problems.append(f"the job is {state} at the end, not RUNNING")
        restored = int(cluster.checkpoints(job_id).get("counts", {}).get("restored", 0))
        # a reading judged on time and then dropped by a window that was ahead (after an idle input) is in no
        # sink; (f) sees it, and this names it (Flink's counters start again with each attempt of the job)
        dropped = cluster.late_records_dropped(job_id)
        n_dropped = sum(dropped.values())
        if n_dropped:
            problems.append(f"windows dropped {n_dropped} readings behind their watermark in the job's "
                            f"last attempt (numLateRecordsDropped): {dropped}")
        counts = oracle.counts(stack, names, sc, sent)
        counts["readings the windows dropped (numLateRecordsDropped, last attempt)"] = n_dropped
    finally:
        cluster.cancel(job_id)
        bridge.stop()
    report = ChaosReport(cs.seed, cs.minutes, started_at, injected, problems, counts, restored, cs.recovery_bound_s)
    return report


def _inject(stack: StackSettings, cluster: FlinkCluster, names: Names, job_id: str, fault: F.Fault, rng: random.Random,
            hold: float, t0: float, bound_s: float, on_event: Callable[[str], None]) -> Injected:
    at = time.monotonic() - t0
    on_event(f"{at:6.0f}s  {fault.name} ...")
    began = time.monotonic()
    try:
        detail = fault.run(F.Target(stack, cluster, job_id, names.readings_table), rng, hold)
    except Exception as exc:  # noqa: BLE001 - a fault that could not be done is reported, and the run goes on
        on_event(f"{at:6.0f}s  {fault.name} FAILED: {exc}")
        return Injected(fault.name, round(at, 1), "", round(time.monotonic() - began, 1), None, str(exc))
    outage = time.monotonic() - began
    before = None
    try:
        before = _readings_snapshot(stack, names)
    except Exception:  # noqa: BLE001 - counted from the first snapshot seen
        pass
    recovered = time_to_next_commit(stack, names, before, bound_s)
    shown = "NOT within the bound" if recovered is None else f"next commit {recovered:.0f}s later"
    on_event(f"{at:6.0f}s  {fault.name}: {detail}; {shown}")
    return Injected(fault.name, round(at, 1), detail, round(outage, 1), None if recovered is None else round(recovered, 1))


def write_results(report: ChaosReport, command: str, path: Path = RESULTS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"command": command, "commit": _commit(), **report.to_dict()}, indent=2) + "\n")
    return path
