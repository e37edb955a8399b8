"""The job's Python workers stall (SIGSTOP) for longer than the source's idle timeout (10 s here) while the turbines
go on sending; then they continue. The decoder runs in the source's task, so the source stalls with
them, and the strict oracle must still hold: nothing lost, doubled or judged late. (Flink takes a split
for idle only after two of its watermark checks, the idle timeout apart, saw no record from it; a stall
of the whole task does not pass for an idle partition.)"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from anemos.platform import Names
from anemos.runner import IngestJob
from reliability import oracle
from reliability import scenario as ref
from reliability.faults import python_workers
from reliability.pipeline import SHORT_IDLE_TIMEOUT_S, new_job
from stack.settings import StackSettings

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]


class Stall:
    """Stops every Python worker of the job's session, and continues them ``hold_s`` later from a thread
    of its own, so the sender goes on meanwhile."""

    def __init__(self, job: IngestJob, hold_s: float) -> None:
        self.job, self.hold_s = job, hold_s
        self.stopped: list[int] = []
        self.thread = threading.Thread(target=self._resume, name="stall", daemon=True)

    def __call__(self) -> None:
        assert self.job.proc is not None
        for pid in python_workers(self.job.proc.pid):  # the job process leads its own session
            os.kill(pid, signal.SIGSTOP)
            self.stopped.append(pid)
        assert self.stopped, "the job has no Python worker to stall"
        self.thread.start()

    def _resume(self) -> None:
        time.sleep(self.hold_s)
        for pid in self.stopped:
            os.kill(pid, signal.SIGCONT)


def test_python_workers_stalled_past_the_idle_timeout_turn_nothing_late(stack: StackSettings, names: Names,
                                                                         tmp_path: Path) -> None:
    sc = ref.build(names.namespace.removeprefix("test_")[:8], seed=23)
    oracle.register_scenario(stack, sc)
    bridge = oracle.local_bridge(stack, names)
    job = new_job(stack, names, tmp_path,
                  extra_args=("--loss-after-ms", str(ref.LOSS_AFTER_MS), "--idle-timeout-s", str(SHORT_IDLE_TIMEOUT_S)))
    stall = Stall(job, SHORT_IDLE_TIMEOUT_S + 8)
    problems = oracle.with_fault_mid_stream(stack, names, sc, job, bridge, stall, after_send=stall.thread.join)
    assert problems == [], "\n".join(problems)
