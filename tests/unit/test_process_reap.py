"""What a recorded process leaves running when it exits on its own is killed, and nothing else.

Real processes: a leader (bash) starts a child in its session and exits, as a TaskManager that exits on its own
leaves its PyFlink Python workers behind (seen after a chaos run: a worker of a TaskManager that had exited
after a SIGSTOP was alive 26 minutes later, after `anemos cluster down`)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from stack import process

# the leader prints its child's pid, then exits; the child (same session) would sleep for 5 minutes
ORPHANING = ["bash", "-c", "sleep 300 & echo $! > \"$0\"; exit 0"]


def _spawn_orphaning(state: Path, name: str) -> int:
    child_file = state / f"{name}.child"
    process.spawn(state, name, [*ORPHANING[:2], ORPHANING[2], str(child_file)])
    deadline = time.monotonic() + 10
    while not (child_file.exists() and child_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(child_file.read_text())
    leader = int(process.pid_file(state, name).read_text().split()[0])
    assert process.wait_dead(leader, 10), "the leader should have exited"
    assert process.alive(child), "the child should outlive its leader"
    return child


@pytest.fixture()
def outsider():  # type: ignore[no-untyped-def]
    """A process of another session, which must survive every reap."""
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def test_stop_kills_what_an_exited_process_left_in_its_session(tmp_path: Path, outsider) -> None:  # type: ignore[no-untyped-def]
    child = _spawn_orphaning(tmp_path, "tm")
    assert process.stop(tmp_path, "tm") is False  # it was not running any more
    assert process.wait_dead(child, 5), "the leftover child still runs after stop"
    assert not process.pid_file(tmp_path, "tm").exists()
    assert process.alive(outsider.pid)


def test_a_restart_under_the_same_name_kills_the_previous_ones_leftovers(tmp_path: Path, outsider) -> None:  # type: ignore[no-untyped-def]
    child = _spawn_orphaning(tmp_path, "tm")
    process.spawn(tmp_path, "tm", ["sleep", "300"])
    try:
        assert process.wait_dead(child, 5), "the previous process's child survived the restart"
        assert process.read_pid(tmp_path, "tm") is not None
        assert process.alive(outsider.pid)
    finally:
        process.stop(tmp_path, "tm")


def test_reap_session_leaves_a_live_leaders_session_alone(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import subprocess, time; subprocess.Popen(['sleep', '300']); "
                             "time.sleep(300)"], start_new_session=True)
    try:
        started = int(process.stat_field(proc.pid, 19) or 0)
        deadline = time.monotonic() + 10
        while not process.session_members(proc.pid, started) and time.monotonic() < deadline:
            time.sleep(0.05)
        members = process.session_members(proc.pid, started)
        assert len(members) == 1
        assert process.reap_session(proc.pid, started, "live") == []  # the leader lives: not ours to reap
        assert process.alive(members[0])
        proc.kill()
        proc.wait()
        assert process.reap_session(proc.pid, started, "dead") == members
        assert process.wait_dead(members[0], 5)
    finally:
        if proc.poll() is None:
            proc.kill()
