"""The process faults of RELIABILITY.md, each done to a real process and then undone the way an operator's
supervisor would (restart what died, resume what was paused). Nothing here talks to the job: recovering is
Flink's business, and the chaos runner measures how long it takes (oracle point g).

Every fault is a blocking call: inject, hold for ``hold_s``, restore. It returns a one-line detail of what
it did, for the chaos table and the logs.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cluster.flink import FlinkCluster
from reliability.pipeline import commit_history
from stack import process
from stack.services import Kafka, Postgres, Redis, S3, Service
from stack.settings import StackSettings

log = logging.getLogger("anemos.faults")


class FaultError(RuntimeError):
    """A fault could not be injected or undone (the target was not there, a service did not come back)."""


@dataclass
class Target:
    """What faults act on: the stack's services and the standalone cluster running ``job_id``."""

    stack: StackSettings
    cluster: FlinkCluster
    job_id: str
    readings_table: str  # <namespace>.readings: whose commits tell where a kill landed


# -- helpers -----------------------------------------------------------------------------------
def python_workers(session: int) -> list[int]:
    """Pids of the PyFlink (Beam) Python workers in a TaskManager's session."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or process.stat_field(int(entry.name), 3) != str(session):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "pyflink.fn_execution" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def _down_service(svc: Service, sig: signal.Signals) -> int:
    """Signal a stack service's process group and wait until it is gone; forget its pid."""
    pid = svc.pid()
    if pid is None:
        raise FaultError(f"{svc.name} is not running")
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    if not process.wait_dead(pid, 60):
        os.killpg(pid, signal.SIGKILL)
        process.wait_dead(pid, 10)
    process.pid_file(svc.s.state_dir, svc.name).unlink(missing_ok=True)
    return pid


def _up_service(svc: Service) -> None:
    svc.start()
    svc.wait_ready()


def _service_outage(svc: Service, sig: signal.Signals, verb: str, hold_s: float) -> str:
    pid = _down_service(svc, sig)
    log.warning("%s %s (pid %d) for %.0fs", verb, svc.name, pid, hold_s)
    time.sleep(hold_s)
    started = time.monotonic()
    _up_service(svc)
    return f"{verb} {svc.name} (pid {pid}) for {hold_s:.0f}s; back in {time.monotonic() - started:.0f}s"


BUSY_WAIT_S = 120.0


def _busy_taskmanagers(t: Target, vertex_contains: str = "") -> list[int]:
    """The TaskManagers running tasks of the job (of its vertices named so, if any run those).

    Right after a fault the job may be between its restart and its tasks' deployment, and then no TaskManager
    runs them yet: the next fault waits for the job to run again, rather than fail (a chaos run once failed that
    way, a pause 15 s after a Python worker kill)."""
    deadline = time.monotonic() + BUSY_WAIT_S
    while True:
        busy = ((vertex_contains and t.cluster.taskmanagers_of(t.job_id, vertex_contains))
                or t.cluster.taskmanagers_of(t.job_id))
        if busy:
            return busy
        if time.monotonic() > deadline:
            raise FaultError(f"no TaskManager runs tasks of job {t.job_id} (waited {BUSY_WAIT_S:.0f}s)")
        time.sleep(1.0)


def _busy_taskmanager(t: Target, rng: random.Random) -> int:
    return rng.choice(_busy_taskmanagers(t))


# -- the faults ----------------------------------------------------------------------------------
def kill_taskmanager(t: Target, rng: random.Random, hold_s: float) -> str:
    """kill -9 a TaskManager running the job (with its Python workers); a supervisor restarts it."""
    index = _busy_taskmanager(t, rng)
    pid = t.cluster.kill_taskmanager(index, signal.SIGKILL)
    time.sleep(hold_s)
    t.cluster.start_taskmanager(index)
    return f"kill -9 taskmanager {index} (pid {pid}); restarted after {hold_s:.0f}s"


def kill_python_worker(t: Target, rng: random.Random, hold_s: float) -> str:
    """kill -9 one Python (Beam) worker of a busy TaskManager; the TaskManager itself lives on."""
    index = _busy_taskmanager(t, rng)
    tm_pid = process.read_pid(t.stack.state_dir, t.cluster.tm_name(index))
    session = process.stat_field(tm_pid, 3) if tm_pid else None
    workers = python_workers(int(session)) if session else []
    if not workers:
        raise FaultError(f"taskmanager {index} has no Python worker")
    victim = rng.choice(workers)
    os.kill(victim, signal.SIGKILL)
    time.sleep(hold_s)
    return f"kill -9 python worker {victim} of taskmanager {index} ({len(workers)} workers)"


def pause_taskmanager(t: Target, rng: random.Random, hold_s: float) -> str:
    """SIGSTOP a busy TaskManager past the heartbeat timeout, then SIGCONT; restart it if it died meanwhile."""
    index = _busy_taskmanager(t, rng)
    hold_s = max(hold_s, t.cluster.s.heartbeat_timeout_ms / 1000 + 5)
    pid = t.cluster.kill_taskmanager(index, signal.SIGSTOP)
    time.sleep(hold_s)
    os.killpg(pid, signal.SIGCONT)
    time.sleep(5)
    restarted = process.read_pid(t.stack.state_dir, t.cluster.tm_name(index)) is None
    if restarted:
        t.cluster.start_taskmanager(index)
    return f"SIGSTOP taskmanager {index} (pid {pid}) for {hold_s:.0f}s" + (", it exited and was restarted" if restarted else "")


def _landed(t: Target, checkpoint: int) -> str:
    """Where a kill made as ``checkpoint`` completed landed, from the raw table's committed checkpoint ids."""
    try:
        committed = max((c for job, _op, c in commit_history(t.stack, t.readings_table) if job == t.job_id), default=-1)
    except Exception as exc:  # noqa: BLE001 - the detail says so; the oracle judges the outcome
        return f"commit state unknown ({type(exc).__name__})"
    if committed < checkpoint:
        return f"before its Iceberg commit (raw table at checkpoint {committed})"
    return "after its Iceberg commit"


def kill_taskmanager_at_commit(t: Target, rng: random.Random, hold_s: float) -> str:
    """kill -9 the TaskManager with the raw table's Iceberg committer the moment a checkpoint completes: between
    'checkpoint complete' and the commit that notification sets off. A supervisor restarts it."""
    index = rng.choice(_busy_taskmanagers(t, f"{t.readings_table}: Writer"))
    checkpoint = t.cluster.wait_checkpoint_completion(t.job_id)
    pid = t.cluster.kill_taskmanager(index, signal.SIGKILL)
    where = _landed(t, checkpoint)
    time.sleep(hold_s)
    t.cluster.start_taskmanager(index)
    return f"kill -9 taskmanager {index} (pid {pid}) as checkpoint {checkpoint} completed, {where}; restarted after {hold_s:.0f}s"


def kill_kafka_at_commit(t: Target, _rng: random.Random, hold_s: float) -> str:
    """kill -9 the broker the moment a checkpoint completes, while the Kafka sinks commit their transactions."""
    checkpoint = t.cluster.wait_checkpoint_completion(t.job_id)
    return f"as checkpoint {checkpoint} completed: " + _service_outage(Kafka(t.stack), signal.SIGKILL, "kill -9", hold_s)


def kill_kafka(t: Target, _rng: random.Random, hold_s: float) -> str:
    return _service_outage(Kafka(t.stack), signal.SIGKILL, "kill -9", hold_s)


def stop_postgres(t: Target, _rng: random.Random, hold_s: float) -> str:
    """Fast shutdown (SIGINT): the Iceberg catalog, the upserts and the turbine registry all go."""
    return _service_outage(Postgres(t.stack), signal.SIGINT, "stop", hold_s)


def stop_s3(t: Target, _rng: random.Random, hold_s: float) -> str:
    return _service_outage(S3(t.stack), signal.SIGTERM, "stop", hold_s)


def kill_redis(t: Target, _rng: random.Random, hold_s: float) -> str:
    return _service_outage(Redis(t.stack), signal.SIGKILL, "kill -9", hold_s)


@dataclass(frozen=True)
class Fault:
    name: str
    run: Callable[[Target, random.Random, float], str]
    hold_s: tuple[float, float]  # drawn uniformly


FAULTS: dict[str, Fault] = {f.name: f for f in (
    Fault("taskmanager-kill", kill_taskmanager, (3, 10)),
    Fault("taskmanager-kill-at-commit", kill_taskmanager_at_commit, (3, 10)),
    Fault("python-worker-kill", kill_python_worker, (0, 0)),
    Fault("taskmanager-pause", pause_taskmanager, (17, 25)),
    Fault("kafka-kill", kill_kafka, (20, 60)),
    Fault("kafka-kill-at-commit", kill_kafka_at_commit, (10, 30)),
    Fault("postgres-stop", stop_postgres, (10, 30)),
    Fault("s3-stop", stop_s3, (10, 30)),
    Fault("redis-kill", kill_redis, (5, 20)),
)}


def parse(names: str) -> list[Fault]:
    """``a,b,c`` (or ``all``) to faults; an unknown name is a clear error."""
    if names.strip() == "all":
        return list(FAULTS.values())
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in FAULTS]
    if unknown or not wanted:
        raise ValueError(f"unknown fault {', '.join(unknown) or '(none given)'}; choose from {', '.join(FAULTS)} or all")
    return [FAULTS[n] for n in wanted]
