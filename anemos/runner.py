"""Run the pipeline's moving parts as real processes: the ingest job, and reading results back."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pyiceberg.expressions import AlwaysTrue, EqualTo
from pyiceberg.table import Table

from anemos.platform import Names
from iceberg.catalog import open_catalog
from stack import process
from stack.manager import catalog_properties
from stack.settings import PROJECT_ROOT, StackSettings

log = logging.getLogger(__name__)


class JobFailedError(RuntimeError):
    """The ingest job process exited or never reported its job id."""


@dataclass
class IngestJob:
    """``python -m flink_jobs.ingest`` in its own process group (client, JVM and Python workers)."""

    stack: StackSettings
    names: Names
    checkpoint_dir: Path
    consumer_group: str
    job_name: str = "anemos-ingest"
    checkpoint_interval_ms: int = 5_000
    log_path: Path | None = None
    extra_args: tuple[str, ...] = ()  # e.g. ("--loss-after-ms", "60000")
    module: str = "flink_jobs.ingest"  # or a module that takes its flags (bench.ceiling_job)
    proc: subprocess.Popen[bytes] | None = None

    def argv(self, restore_from: str = "auto") -> list[str]:
        """The job's command line (``restore_from``: auto, latest, none or a path)."""
        return [
            sys.executable, "-m", self.module, "--raw-topic", self.names.raw_topic, "--dlq-topic",
            self.names.dlq_topic, "--aggregates-topic", self.names.aggregates_topic, "--alerts-topic",
            self.names.alerts_topic, "--namespace", self.names.namespace, "--redis-prefix", self.names.redis_prefix,
            *self.extra_args, "--checkpoint-dir",
            str(self.checkpoint_dir), "--consumer-group", self.consumer_group, "--job-name", self.job_name,
            "--checkpoint-interval-ms", str(self.checkpoint_interval_ms), "--restore-from", restore_from,
        ]

    def start(self, restore_latest: bool = False) -> "IngestJob":
        """Start the job: from the latest retained checkpoint (which must exist) or, by default, from whatever is there."""
        self.log_path = self.log_path or self.stack.path("logs", f"{self.job_name}.log")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = self.argv("latest" if restore_latest else "auto")
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        # the local mini-cluster's own log, one per job (PyFlink's default, inside the package, is overwritten by each job)
        self.flink_log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "FLINK_LOG_DIR": str(self.flink_log_dir)}
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, start_new_session=True, env=env)
        self._started = int(process.stat_field(self.proc.pid, 19) or 0)
        log.info("ingest job process %d started (log %s, Flink log in %s)", self.proc.pid, self.log_path, self.flink_log_dir)
        return self

    def reap(self) -> list[int]:
        """Once the job process has exited, kill -9 what it left in its session: the Python workers of a
        mini-cluster JVM that died under them live on otherwise. Returns their pids."""
        if self.proc is None or self.proc.poll() is None:
            return []
        return process.reap_session(self.proc.pid, self._started, f"ingest job process of {self.job_name}")

    @property
    def flink_log_dir(self) -> Path:
        assert self.log_path is not None
        return self.log_path.with_name(f"{self.log_path.stem}-flink")

    def wait_submitted(self, timeout_s: float = 240.0) -> str:
        """Block until the job reports its Flink job id."""
        assert self.proc is not None and self.log_path is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as fh:
                fh.seek(self._log_offset)
                for line in fh.read().decode(errors="replace").splitlines():
                    if line.startswith("JOB_ID "):
                        return line.split()[1]
            if self.proc.poll() is not None:
                raise JobFailedError(f"ingest job exited with {self.proc.returncode}; see {self.log_path}")
            time.sleep(1)
        raise JobFailedError(f"ingest job did not start within {timeout_s:.0f}s; see {self.log_path}")

    def jvm_pid(self) -> int | None:
        """The local mini-cluster's JVM: the job process's java child (PyFlink's gateway)."""
        assert self.proc is not None
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid), "java"], capture_output=True, text=True, check=False)
        pids = [int(p) for p in out.stdout.split()]
        return pids[0] if pids else None

    def kill(self) -> None:
        """SIGKILL the whole process group: no cancel, no final checkpoint, no clean shutdown."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.reap()

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM: the job is cancelled (checkpoints retained) and the process exits; then nothing of it is left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.reap()


class Supervisor:
    """Restarts a job whose process has exited from its latest retained checkpoint, as a deployment's
    supervisor does (the Flink Kubernetes Operator on a cluster; here, a thread). The job process exits
    with 3 when its job fails for good or its local Flink JVM dies, and Flink's own restart strategy
    covers everything short of that."""

    def __init__(self, job: IngestJob, poll_s: float = 2.0) -> None:
        self.job, self._poll_s = job, poll_s
        self.restarts: list[int] = []  # the exit code of each process it replaced
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-supervisor", daemon=True)

    def __enter__(self) -> "Supervisor":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            proc = self.job.proc
            if proc is None or proc.poll() is None:
                continue
            log.warning("ingest job process %d exited with %s: restarting it from its latest checkpoint",
                        proc.pid, proc.returncode)
            self.restarts.append(proc.returncode)
            self.job.reap()
            self.job.start(restore_latest=True)
            self.job.wait_submitted()


# job state switches, task failures, restores, failed and completed checkpoints, exception causes
_EVENT = re.compile(r"- Job .* switched from state|switched from \w+ to FAILED|Restoring job|Completed checkpoint"
                    r"|Failed to trigger or complete checkpoint|Exceeded checkpoint tolerable|^Caused by:")


def flink_events(log_dir: Path, limit: int = 40) -> list[str]:
    """The last ``limit`` lifecycle lines of the Flink logs in ``log_dir``, each cut to 300 characters."""
    events: list[str] = []
    for path in sorted(log_dir.glob("*.log")):
        with open(path, errors="replace") as fh:
            events += [line.rstrip()[:300] for line in fh if _EVENT.search(line)]
    return events[-limit:]


def _ids(tbl: Table, edge_id: str | None) -> list[str]:
    scan = tbl.refresh().scan(row_filter=EqualTo("edge_id", edge_id) if edge_id else AlwaysTrue(), selected_fields=("msg_id",))
    return scan.to_arrow().column("msg_id").to_pylist()


def stored_ids(stack: StackSettings, table: str, edge_id: str | None = None) -> list[str]:
    """msg_id of every row of ``table`` (optionally one edge's), duplicates included."""
    return _ids(open_catalog(catalog_properties(stack)).load_table(table), edge_id)


def wait_for_rows(
    stack: StackSettings, table: str, expected: int, edge_id: str | None = None, timeout_s: float = 180.0,
    settle_s: float = 0.0,
) -> list[str]:
    """Poll until ``expected`` rows are stored (then ``settle_s`` more, to catch late duplicates)."""
    deadline = time.monotonic() + timeout_s
    tbl = open_catalog(catalog_properties(stack)).load_table(table)  # once; each poll refreshes metadata
    ids = _ids(tbl, edge_id)
    while len(ids) < expected and time.monotonic() < deadline:
        time.sleep(2)
        ids = _ids(tbl, edge_id)
    if settle_s:
        time.sleep(settle_s)
        ids = _ids(tbl, edge_id)
    return ids
