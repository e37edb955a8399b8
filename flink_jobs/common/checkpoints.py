"""Find retained checkpoints to resume a job from, and the window plan their state was made with."""

from __future__ import annotations

from pathlib import Path


def latest(checkpoint_dir: Path) -> Path | None:
    """The newest complete checkpoint (a chk-N folder with _metadata) under any job id."""
    done = [m.parent for m in checkpoint_dir.glob("*/chk-*/_metadata")]
    if not done:
        return None
    return max(done, key=lambda p: (p.stat().st_mtime, int(p.name.split("-")[1])))


WINDOW_PLAN_FILE = "window-plan"


def recorded_window_plan(checkpoint_dir: Path) -> str:
    """The window plan (JobSettings.window_plan) of the checkpoints under ``checkpoint_dir``: the one the job last
    started with there, or "direct" where none is recorded (the checkpoints of a version before the plans)."""
    record = checkpoint_dir / WINDOW_PLAN_FILE
    return record.read_text().strip() if record.exists() else "direct"


def record_window_plan(checkpoint_dir: Path, plan: str) -> None:
    """Note the plan a job started with under ``checkpoint_dir``: its checkpoints hold that plan's window state."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    (checkpoint_dir / WINDOW_PLAN_FILE).write_text(plan + "\n")
