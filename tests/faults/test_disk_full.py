"""Fill the disk that holds the job's checkpoints (a small tmpfs) mid-scenario, then free it; twice:

- with the default --tolerable-failed-checkpoints 0, each failed checkpoint restarts the job from the last
  completed one, again and again until there is room (on the local mini-cluster, so the Python workers are
  restarted too: in PyFlink's default 'loopback' mode this restore failed with "A serializer has already been
  registered for the state", and the job died; the job now runs its workers as processes);
- with 60, checkpoints fail while the disk is full, the job keeps going and commits nothing.

Either way, once there is room the next checkpoint commits everything, and every sink equals the reference."""

from __future__ import annotations

import errno
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anemos.platform import Names
from anemos.runner import Supervisor
from flink_jobs.common import checkpoints
from reliability import oracle
from reliability import scenario as ref
from reliability.pipeline import new_job
from stack.settings import StackSettings

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]

FULL_FOR_S = 25


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 MB tmpfs (needs root, as the stack's apt-get does)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> int:
    """Write a filler file until the disk refuses; return the bytes written."""
    written = 0
    chunk = b"\0" * (1 << 20)
    with open(disk / "filler", "wb", buffering=0) as out:
        while True:
            try:
                written += out.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                return written


@pytest.mark.parametrize("tolerable", [0, 60], ids=["restarts", "rides-through"])
def test_checkpoint_disk_full_then_freed_keeps_the_oracle(stack: StackSettings, names: Names, tmp_path: Path,
                                                          small_disk: Path, tolerable: int) -> None:
    sc = ref.build(names.namespace.removeprefix("test_")[:8], seed=14)
    oracle.register_scenario(stack, sc)
    bridge = oracle.local_bridge(stack, names)
    ckpt = small_disk / "checkpoints"
    job = new_job(stack, names, tmp_path, interval_ms=2_000, extra_args=("--loss-after-ms", str(ref.LOSS_AFTER_MS), "--tolerable-failed-checkpoints", str(tolerable)),
                  checkpoint_dir=ckpt)
    target = f"127.0.0.1:{bridge.port}"
    seen: dict[str, Path | None] = {}

    def full_for_a_while() -> None:
        time.sleep(3)  # a checkpoint under way when the disk filled may still complete
        seen["while_full"] = checkpoints.latest(ckpt)
        time.sleep(FULL_FOR_S)
        seen["end_of_full"] = checkpoints.latest(ckpt)
        (small_disk / "filler").unlink()

    # the turbines go on sending while the disk is full: a sender that waited as long would leave every
    # partition idle, and its burst afterwards could make on-time readings late (oracle.MidStreamKill)
    freeing = threading.Thread(target=full_for_a_while, name="disk-full", daemon=True)

    def disk_full() -> None:
        print(f"disk full: {fill(small_disk) >> 20} MB of filler")
        freeing.start()

    full = oracle.MidStreamKill(stack, names, sc, disk_full)
    try:
        job.start()
        job.wait_submitted()
        # Once in a rehearsal of CI (and, by the same symptom, once in CI), the local mini-cluster's JVM vanished
        # (no crash report, no OOM kill) while it restarted the job on a full disk. The job process then exits 3
        # and is restarted from its latest checkpoint, as a deployment's supervisor would; the oracle must hold.
        with Supervisor(job) as supervisor:
            sent = oracle.send_ontime(stack, names, target, sc, on_batch=full)
            full.assert_mid_stream()
            freeing.join()
            # each restore replays from the last checkpoint before the disk filled, on a cold Python worker: the
            # catch-up took 46 to 70 s here on an idle machine, so allow more than the usual 300 s on a busy one
            problems = oracle.finish(stack, names, target, sc, sent, timeout_s=600)
        print(f"job process restarts by the supervisor: {supervisor.restarts or 'none'}")
    finally:
        job.stop()
        bridge.stop()
    # the fault reached the job: no checkpoint completed while the disk was full (one every 2 s otherwise),
    # and the job checkpointed again once it had room
    assert seen["while_full"] == seen["end_of_full"], f"checkpoints completed on a full disk: {seen}"
    assert checkpoints.latest(ckpt) != seen["end_of_full"], "no checkpoint after the disk was freed"
    assert problems == [], "\n".join(problems)
