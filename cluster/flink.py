"""Start, stop, inspect and hurt the standalone cluster; submit the stream job to it."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cluster import MAX_TASKMANAGERS
from flink_jobs.common import checkpoints
from flink_jobs.common.env import hadoop_classpath
from flink_jobs.common.settings import JobSettings
from stack import process
from stack.settings import PROJECT_ROOT, StackSettings
from stack.shortpath import short_alias

log = logging.getLogger("anemos.cluster")
TERMINAL_JOB_STATES = frozenset({"FINISHED", "FAILED", "CANCELED"})  # globally terminal: the job will not run again


class ClusterError(RuntimeError):
    """The cluster did not start, or a job could not be submitted."""


def flink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).resolve().parent


@dataclass
class ClusterSettings:
    taskmanagers: int = 2
    slots_per_taskmanager: int = 2
    rest_port: int = 18088
    rpc_port: int = 16123
    jobmanager_memory: str = "1024m"
    taskmanager_memory: str = "2048m"
    # short heartbeats, so a paused or vanished TaskManager is declared dead within seconds
    heartbeat_interval_ms: int = 2_000
    heartbeat_timeout_ms: int = 12_000
    # how often the REST server may refresh its cache of the TaskManagers' metrics (Flink's default is 10 s)
    metrics_fetch_interval_ms: int = 1_000
    extra: dict[str, str] = field(default_factory=dict)


class FlinkCluster:
    def __init__(self, stack: StackSettings, settings: ClusterSettings | None = None) -> None:
        self.stack, self.s = stack, settings or ClusterSettings()
        self.home = flink_home()
        self.conf_dir = stack.path("flink-cluster", "conf")
        self.rest = f"http://{stack.host}:{self.s.rest_port}"

    @property
    def metrics_settle_s(self) -> float:
        """How long after asking for a refresh of the REST server's metric cache it has surely landed."""
        return 3 * self.s.metrics_fetch_interval_ms / 1000

    # -- configuration ------------------------------------------------------------------------
    def _java_opts(self) -> str:
        text = (self.home / "conf" / "config.yaml").read_text()
        m = re.search(r"^\s+all:\s*(.+)$", text, re.M)  # env.java.opts.all of the distribution
        return m.group(1).strip() if m else ""

    def write_config(self) -> Path:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        host = self.stack.host
        conf = {
            "jobmanager.rpc.address": host, "jobmanager.rpc.port": self.s.rpc_port, "jobmanager.bind-host": host,
            "jobmanager.memory.process.size": self.s.jobmanager_memory, "jobmanager.execution.failover-strategy": "region",
            "taskmanager.bind-host": host, "taskmanager.host": host,
            "taskmanager.numberOfTaskSlots": self.s.slots_per_taskmanager,
            "taskmanager.memory.process.size": self.s.taskmanager_memory,
            # each job and each restart loads the connectors' classes again; at the default 256m, TaskManagers that
            # had run a few jobs through hundreds of restarts died of "OutOfMemoryError: Metaspace"
            "taskmanager.memory.jvm-metaspace.size": "512m",
            "rest.address": host, "rest.bind-address": host, "rest.port": self.s.rest_port,
            "parallelism.default": 2, "state.backend.type": "rocksdb", "execution.checkpointing.incremental": "true",
            "restart-strategy.type": "exponential-delay", "heartbeat.interval": self.s.heartbeat_interval_ms,
            "heartbeat.timeout": self.s.heartbeat_timeout_ms, "python.executable": sys.executable,
            "metrics.fetcher.update-interval": self.s.metrics_fetch_interval_ms,
            # a job's slots spread over the TaskManagers, so losing one TaskManager hurts every job a little
            "taskmanager.load-balance.mode": "SLOTS",
            "classloader.check-leaked-classloader": "false", "env.java.opts.all": self._java_opts(),
            **self.s.extra,
        }
        path = self.conf_dir / "config.yaml"
        path.write_text("".join(f"{k}: {v}\n" for k, v in conf.items()))
        for name in ("log4j-console.properties", "log4j.properties", "log4j-cli.properties"):
            (self.conf_dir / name).write_text((self.home / "conf" / name).read_text())
        return path

    def _env(self) -> dict[str, str]:
        settings = JobSettings.from_stack(self.stack)
        return {
            "FLINK_CONF_DIR": str(self.conf_dir), "FLINK_LOG_DIR": str(self.stack.path("logs")),
            # the Postgres driver and Hadoop's Configuration, parent-first (see flink_jobs/common/env.py), and
            # flink-python, which a distribution keeps in opt/ (the cluster needs its Python operators)
            "HADOOP_CLASSPATH": os.pathsep.join([hadoop_classpath(settings), *map(str, (self.home / "opt").glob("flink-python-*.jar"))]),
            # Python workers import the project's packages
            "PYTHONPATH": str(PROJECT_ROOT),
            "AWS_REQUEST_CHECKSUM_CALCULATION": "WHEN_REQUIRED", "AWS_RESPONSE_CHECKSUM_VALIDATION": "WHEN_REQUIRED",
        }

    # -- lifecycle ------------------------------------------------------------------------------
    def _foreground(self, name: str, script: str, *args: str) -> None:
        """``<script> start-foreground``: the distribution's own memory and JVM set-up, as a process we record."""
        argv = ["bash", str(self.home / "bin" / script), "start-foreground", *args]
        process.spawn(self.stack.state_dir, name, argv,
                      env=self._env(), cwd=PROJECT_ROOT)

    @staticmethod
    def tm_name(index: int) -> str:
        return f"flink-taskmanager-{index}"

    def process_names(self) -> list[str]:
        """Every process a cluster of this stack may have recorded (up to the CLI's 8 TaskManagers), JobManager last."""
        return [self.tm_name(i) for i in range(1, MAX_TASKMANAGERS + 1)] + ["flink-jobmanager"]

    def running(self) -> bool:
        return any(process.read_pid(self.stack.state_dir, name) for name in self.process_names())

    def up(self, timeout_s: float = 120.0) -> dict[str, Any]:
        """Start what is not running (JobManager, then TaskManagers) and wait for every slot."""
        self.write_config()
        if process.read_pid(self.stack.state_dir, "flink-jobmanager") is None:
            if process.port_open(self.stack.host, self.s.rest_port):
                raise ClusterError(f"port {self.s.rest_port} is in use by a process this stack did not start")
            self._foreground("flink-jobmanager", "jobmanager.sh", *self._fresh_tmp("jobmanager"))
        for i in range(1, self.s.taskmanagers + 1):
            self.start_taskmanager(i)
        want = self.s.taskmanagers * self.s.slots_per_taskmanager
        process.wait_until("flink cluster", lambda: self._slots() >= want, timeout_s=timeout_s,
                           log_path=self.stack.path("logs", "flink-jobmanager.log"))
        return self.status()

    def start_taskmanager(self, index: int) -> None:
        if process.read_pid(self.stack.state_dir, self.tm_name(index)) is None:
            self._foreground(self.tm_name(index), "taskmanager.sh", "-D", f"taskmanager.resource-id=tm-{index}",
                             *self._fresh_tmp(f"tm-{index}"))

    def _fresh_tmp(self, owner: str) -> tuple[str, ...]:
        """An empty working directory (RocksDB instances, blobs) for a process about to start, as its io.tmp.dirs,
        and RocksDB's local directory: the same directory by a short alias (see stack.shortpath).

        A killed TaskManager leaves its jobs' RocksDB directories behind, and in /tmp they piled up by gigabytes
        over the fault tests. Local recovery is off, so nothing in there is needed by the next process."""
        tmp = self.stack.path("tmp", "cluster", owner)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        rocksdb = short_alias(self.stack.path("tmp", "cluster")) / owner
        return "-D", f"io.tmp.dirs={tmp}", "-D", f"state.backend.rocksdb.localdir={rocksdb}"

    def down(self) -> list[str]:
        stopped = []
        for name in self.process_names():
            if process.stop(self.stack.state_dir, name):
                stopped.append(name)
        return stopped

    def kill_all(self) -> list[int]:
        """kill -9 the JobManager and every TaskManager (the whole job dies; without HA the cluster forgets it)."""
        killed = []
        for name in self.process_names():
            pid = process.read_pid(self.stack.state_dir, name)
            if pid is not None:
                os.killpg(pid, signal.SIGKILL)
                process.pid_file(self.stack.state_dir, name).unlink(missing_ok=True)
                killed.append(pid)
        log.warning("kill -9 the whole cluster (pids %s)", killed)
        return killed

    def kill_taskmanager(self, index: int, sig: signal.Signals = signal.SIGKILL) -> int:
        """Signal a TaskManager's process group (its Python workers too). SIGKILL forgets it."""
        pid = process.read_pid(self.stack.state_dir, self.tm_name(index))
        if pid is None:
            raise ClusterError(f"taskmanager {index} is not running")
        os.killpg(pid, sig)
        if sig == signal.SIGKILL:
            process.pid_file(self.stack.state_dir, self.tm_name(index)).unlink(missing_ok=True)
        log.warning("sent %s to taskmanager %d (pid %d)", sig.name, index, pid)
        return pid

    # -- REST -----------------------------------------------------------------------------------
    def _get(self, path: str) -> Any:
        return httpx.get(f"{self.rest}{path}", timeout=5).json()

    def _slots(self) -> int:
        try:
            return int(self._get("/overview").get("slots-total", 0))
        except (httpx.HTTPError, ValueError):
            return 0

    def status(self) -> dict[str, Any]:
        try:
            overview = self._get("/overview")
            tms = [{"id": t["id"], "slots": t["slotsNumber"], "free": t["freeSlots"]} for t in self._get("/taskmanagers")["taskmanagers"]]
        except (httpx.HTTPError, ValueError):
            overview, tms = {}, []
        return {"rest": self.rest, "taskmanagers": tms, "slots_total": overview.get("slots-total", 0),
                "jobs_running": overview.get("jobs-running", 0)}

    def job(self, job_id: str) -> dict[str, Any]:
        return self._get(f"/jobs/{job_id}")

    def taskmanagers_of(self, job_id: str, vertex_contains: str = "") -> list[int]:
        """Indexes of the TaskManagers running tasks of ``job_id`` (their resource ids are tm-<index>), or only
        of its vertices whose name contains ``vertex_contains``."""
        found: set[int] = set()
        for vertex in self.job(job_id).get("vertices", []):
            if vertex_contains not in vertex.get("name", ""):
                continue
            for tm in self._get(f"/jobs/{job_id}/vertices/{vertex['id']}/taskmanagers").get("taskmanagers", []):
                if tm.get("taskmanager-id", "").startswith("tm-") and tm.get("status") == "RUNNING":
                    found.add(int(tm["taskmanager-id"].removeprefix("tm-")))
        return sorted(found)

    def checkpoints(self, job_id: str) -> dict[str, Any]:
        return self._get(f"/jobs/{job_id}/checkpoints")

    def latest_completed_checkpoint(self, job_id: str) -> int | None:
        try:
            completed = (self.checkpoints(job_id).get("latest") or {}).get("completed") or {}
        except (httpx.HTTPError, ValueError):
            return None
        return completed.get("id")

    def wait_checkpoint_completion(self, job_id: str, timeout_s: float = 120.0) -> int:
        """Block until the job completes a checkpoint newer than the latest one now; return its id as soon as the
        JobManager reports it (polled every 20 ms: the sinks' commits follow that report within milliseconds)."""
        before = self.latest_completed_checkpoint(job_id)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            now = self.latest_completed_checkpoint(job_id)
            if now is not None and now != before:
                return now
            time.sleep(0.02)
        raise ClusterError(f"job {job_id} completed no checkpoint in {timeout_s:.0f}s")

    def sink_committables(self, job_id: str) -> dict[str, dict[str, int]]:
        """Per sink committer (e.g. ``alerts_sink[45]``): its committables by outcome, summed over subtasks, for
        the current attempt (Flink's metrics restart with each failover). ``failedCommittables`` counts the
        transactions a sink gave up on: for Kafka, ones the broker aborted, whose records are lost to Kafka."""
        out: dict[str, dict[str, int]] = {}
        for _vertex, values in self._vertex_metrics(job_id, lambda i: i.endswith("Committables") and "__Committer." in i):
            for m in values:
                _subtask, rest = m["id"].split(".", 1)
                sink, metric = rest.rsplit("__Committer.", 1)
                row = out.setdefault(sink, {})
                row[metric] = row.get(metric, 0) + int(float(m.get("value") or 0))
        return out

    def late_records_dropped(self, job_id: str) -> dict[str, int]:
        """Per task (vertex name, cut to 80 characters): the records its window operators dropped as behind their
        watermark (``numLateRecordsDropped``), summed over subtasks, for the current attempt. The job routes
        late readings away from the windows, so anything here was judged on time and then lost to a window."""
        return {vertex["name"][:80]: sum(int(float(m.get("value") or 0)) for m in values)
                for vertex, values in self._vertex_metrics(job_id, lambda i: i.endswith(".numLateRecordsDropped"))}

    def _vertex_metrics(self, job_id: str, wanted: Callable[[str], bool]) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Per task of the job that has any: (its vertex, the values of its metrics whose ids are ``wanted``,
        one entry per subtask and metric, ids as ``<subtask>.<name>``).

        Fresh, not cached: Flink's REST server answers metrics from a cache that a request only asks to refresh
        (in the background, at most every ``metrics.fetcher.update-interval``), so the first answer after a quiet
        spell can predate a failover (the likely reason a Kafka-outage test once found the committers of two sinks
        and not of ``dlq_sink`` after the job's restore). Hence: ask once, wait out a refresh, then read."""
        self._get(f"/jobs/{job_id}/metrics")
        time.sleep(self.metrics_settle_s)
        for vertex in self.job(job_id).get("vertices", []):
            names = [m["id"] for m in self._get(f"/jobs/{job_id}/vertices/{vertex['id']}/metrics") if wanted(m["id"])]
            if names:
                yield vertex, self._get(f"/jobs/{job_id}/vertices/{vertex['id']}/metrics?get={','.join(names)}")

    def wait_running(self, job_id: str, timeout_s: float = 180.0) -> None:
        """Until every task of the job runs (after a submit or a failover)."""
        def running() -> bool:
            try:
                info = self.job(job_id)
            except (httpx.HTTPError, ValueError):
                return False
            return info.get("state") == "RUNNING" and all(v.get("status") == "RUNNING" for v in info.get("vertices", []))
        process.wait_until(f"job {job_id} running", running, timeout_s=timeout_s)

    # -- jobs -----------------------------------------------------------------------------------
    def submit(self, job_args: list[str], log_path: Path, timeout_s: float = 300.0) -> str:
        """``flink run -d -pym flink_jobs.ingest`` with ``job_args``; returns the Flink job id."""
        # "--" ends Flink's own options: without it, Flink's parser (commons-cli, which takes any unambiguous
        # prefix of a long option) kept a leading job flag for itself: --parallelism, or --detach (as
        # --detached) when no flag came before it, and the job then waited for its end instead of returning
        argv = ["bash", str(self.home / "bin" / "flink"), "run", "-m", f"{self.stack.host}:{self.s.rest_port}", "-d",
                "-pyexec", sys.executable, "-pyclientexec", sys.executable, "-pym", "flink_jobs.ingest", "--",
                *job_args, "--detach"]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        start = log_path.stat().st_size if log_path.exists() else 0
        with open(log_path, "ab") as out:
            done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, env={**os.environ, **self._env()},
                                  timeout=timeout_s)
        with open(log_path, "rb") as log_file:
            log_file.seek(start)
            text = log_file.read().decode(errors="replace")  # this submit's part of the log
        ids = re.findall(r"JOB_ID ([0-9a-f]{32})", text)
        if done.returncode != 0 or not ids:
            # the job's own one-line refusal or usage error, when it gave one, rather than Flink's stack trace
            said = re.findall(r"^python -m flink_jobs\.ingest: (?:refused|error): .*$", text, re.MULTILINE)
            raise ClusterError(f"flink run exited {done.returncode}{': ' + said[-1] if said else ''}; see {log_path}")
        return ids[-1]

    def window_plan(self, job_id: str) -> str | None:
        """The job's window plan (its global job parameter; None for a job that sets none)."""
        config = self._get(f"/jobs/{job_id}/config").get("execution-config", {})
        plan = config.get("user-config", {}).get(checkpoints.WINDOW_PLAN_PARAMETER)
        return None if plan is None else str(plan)

    def stop_with_savepoint(self, job_id: str, target_dir: Path, timeout_s: float = 300.0) -> str:
        """Stop the job with a savepoint (its sinks commit what it holds, then it finishes); returns the savepoint's
        path. The way to upgrade: stop with a savepoint, submit the new version with ``--restore-from`` it."""
        target_dir.mkdir(parents=True, exist_ok=True)
        plan = self.window_plan(job_id)  # noted in the savepoint, for the restore to find
        reply = httpx.post(f"{self.rest}/jobs/{job_id}/stop", json={"targetDirectory": str(target_dir), "drain": False},
                           timeout=10).json()
        if "request-id" not in reply:
            raise ClusterError(f"stop-with-savepoint of job {job_id} refused: {reply.get('errors', reply)}")
        result: dict[str, Any] = {}

        def done() -> bool:
            result.update(self._get(f"/jobs/{job_id}/savepoints/{reply['request-id']}"))
            return result.get("status", {}).get("id") == "COMPLETED"

        process.wait_until(f"savepoint of job {job_id}", done, timeout_s=timeout_s)
        operation = result.get("operation", {})
        if "location" not in operation:
            raise ClusterError(f"savepoint of job {job_id} failed: {operation.get('failure-cause', operation)}")
        location = str(operation["location"])
        if plan is not None:
            checkpoints.record_window_plan(checkpoints.local_path(location), plan)
        self._wait_finished(job_id, timeout_s)
        return location

    def _wait_finished(self, job_id: str, timeout_s: float) -> None:
        """Until the stopped job reports FINISHED. The savepoint's COMPLETED comes first: the job's REST answer
        is cached (``web.refresh-interval``) and the Dispatcher learns the end from the JobMaster afterwards, so a
        caller that submits the next version at once could otherwise see the old one still RUNNING."""
        state: dict[str, str] = {}

        def terminal() -> bool:
            state["now"] = str(self.job(job_id).get("state"))
            return state["now"] in TERMINAL_JOB_STATES

        wait_for(f"job {job_id} finished after its savepoint", terminal, timeout_s=timeout_s, every_s=0.2)
        if state["now"] != "FINISHED":
            raise ClusterError(f"job {job_id} ended {state['now']} after its savepoint, not FINISHED")

    def cancel(self, job_id: str) -> None:
        httpx.patch(f"{self.rest}/jobs/{job_id}?mode=cancel", timeout=10)

    def wait_taskmanagers(self, count: int, timeout_s: float = 60.0) -> None:
        process.wait_until(f"{count} taskmanagers", lambda: len(self.status()["taskmanagers"]) == count, timeout_s=timeout_s)


def wait_for(what: str, check: Any, timeout_s: float, every_s: float = 1.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(every_s)
    raise ClusterError(f"{what}: not within {timeout_s:.0f}s")
