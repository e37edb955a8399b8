"""Start and stop background services by recorded pid, and wait for them to answer."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from stack.errors import StartError

log = logging.getLogger(__name__)


def pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / "run" / f"{name}.pid"


def read_pid(state_dir: Path, name: str) -> int | None:
    """The pid recorded for ``name`` if that process is still alive, else None."""
    try:
        recorded = pid_file(state_dir, name).read_text().split()
        pid = int(recorded[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    if not alive(pid):
        return None
    # guard against pid reuse: the process must still have the start time we recorded
    if len(recorded) > 1 and recorded[1] != _start_time(pid):
        return None
    return pid


def _record(state_dir: Path, name: str) -> tuple[int, int] | None:
    """The pid and start time (clock ticks since boot) recorded for ``name``, alive or not."""
    try:
        pid, started = pid_file(state_dir, name).read_text().split()[:2]
        return int(pid), int(started)
    except (FileNotFoundError, ValueError):
        return None


def session_members(leader: int, started: int) -> list[int]:
    """Processes still in the session ``leader`` opened at ``started``, the leader aside.

    Everything this module spawns leads a session of its own (``start_new_session``), and a child stays in it
    unless it opens another one: a TaskManager's Python workers, a job process's JVM and its workers. Linux
    does not give a session's id to a new process while any member lives, and members start after their
    leader, so a process whose session id is ``leader`` and that started no earlier than ``started`` is
    one of them."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == leader:
            continue
        pid = int(entry.name)
        sid, start = stat_field(pid, 3), stat_field(pid, 19)
        if sid == str(leader) and start is not None and int(start) >= started and alive(pid):
            members.append(pid)
    return members


def reap_session(leader: int, started: int, what: str) -> list[int]:
    """kill -9 what is left of a session whose leader is gone (a TaskManager that exited on its own leaves its
    Python workers running; so does a job process whose JVM died). Returns the pids killed."""
    if alive(leader):
        return []
    left = session_members(leader, started)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if left:
        log.warning("%s (pid %d) is gone; killed %d processes it left running: %s", what, leader, len(left), left)
    return left


def reap_leftovers(state_dir: Path, name: str) -> list[int]:
    """``reap_session`` for the process recorded for ``name``, if that process has exited."""
    record = _record(state_dir, name)
    if record is None or read_pid(state_dir, name) is not None:
        return []
    return reap_session(*record, what=name)


def stat_field(pid: int, index: int) -> str | None:
    """One field of /proc/<pid>/stat after the command name: 0 state, 3 session id, 19 start time."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1].split()[index]
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = stat_field(pid, 0)
    return state is not None and state != "Z"


def wait_dead(pid: int, timeout_s: float) -> bool:
    """Until ``pid`` is gone (or a zombie); False if it still runs after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _start_time(pid: int) -> str:
    return stat_field(pid, 19) or "?"


def spawn(
    state_dir: Path,
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> int:
    """Start ``argv`` detached in its own session, log to logs/<name>.log, record its pid. What an earlier
    process of that name left running (its leader gone) is killed first."""
    reap_leftovers(state_dir, name)
    log_path = state_dir / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pid_file(state_dir, name).parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(env or {})
    if user is not None:
        argv = ["runuser", "-u", user, "--", *argv]
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=full_env,
            start_new_session=True,
        )
    pid_file(state_dir, name).write_text(f"{proc.pid} {_start_time(proc.pid)}\n")
    log.info("started %s (pid %d), log %s", name, proc.pid, log_path)
    return proc.pid


def stop(state_dir: Path, name: str, *, timeout_s: float = 30.0) -> bool:
    """Stop the process recorded for ``name`` (TERM, then KILL), and whatever it leaves running in its
    session. True if it was running."""
    record, pid = _record(state_dir, name), read_pid(state_dir, name)
    if pid is None:
        reap_leftovers(state_dir, name)
        pid_file(state_dir, name).unlink(missing_ok=True)
        return False
    pid_file(state_dir, name).unlink(missing_ok=True)
    _signal_group(pid, signal.SIGTERM)
    if not wait_dead(pid, timeout_s):
        log.warning("%s (pid %d) ignored SIGTERM for %.0fs; killing", name, pid, timeout_s)
        _signal_group(pid, signal.SIGKILL)
        wait_dead(pid, float("inf"))
    if record is not None:
        reap_session(*record, what=name)
    log.info("stopped %s (pid %d)", name, pid)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # services run in their own session: signal the group so helpers (runuser) go too
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_until(
    what: str,
    ready: Callable[[], bool],
    *,
    timeout_s: float,
    alive: Callable[[], bool] | None = None,
    log_path: Path | None = None,
) -> None:
    """Poll ``ready`` until true; fail fast if ``alive`` says the process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except Exception:  # noqa: BLE001 - a probe that raises means "not ready yet"
            pass
        if alive is not None and not alive():
            raise StartError(f"{what} exited during start-up; see {log_path}: {_tail(log_path)}")
        time.sleep(0.5)
    raise StartError(f"{what} did not answer within {timeout_s:.0f}s; see {log_path}: {_tail(log_path)}")


def _tail(path: Path | None, lines: int = 5) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])
