"""Find retained checkpoints to resume a job from, and the window plan their state was made with."""

from __future__ import annotations

import re
from pathlib import Path


def latest(checkpoint_dir: Path) -> Path | None:
    """The newest complete checkpoint (a chk-N folder with _metadata) under any job id."""
    done = [m.parent for m in checkpoint_dir.glob("*/chk-*/_metadata")]
    if not done:
        return None
    return max(done, key=lambda p: (p.stat().st_mtime, int(p.name.split("-")[1])))


def local_path(uri: str) -> Path:
    """A checkpoint or savepoint location as a local path (a file: URI or a plain path)."""
    return Path(re.sub(r"^file:(//)?", "", uri))


WINDOW_PLAN_FILE = "window-plan"
# the plan of a job that starts without state (JobSettings.effective_window_plan)
NEW_DEPLOYMENT_PLAN = "cascade"
# the job's global job parameter that names its plan, read back from Flink's REST API by a stop with a savepoint
WINDOW_PLAN_PARAMETER = "anemos.window-plan"


def recorded_window_plan(checkpoint_dir: Path) -> str:
    """The window plan (JobSettings.window_plan) of the checkpoints under ``checkpoint_dir``: the one the job last
    started with there, or "direct" where none is recorded (the checkpoints of a version before the plans)."""
    return _read_plan(checkpoint_dir) or "direct"


def savepoint_window_plan(location: Path) -> str | None:
    """The plan recorded in a savepoint's directory (``cluster.flink.FlinkCluster.stop_with_savepoint`` writes it),
    or in the checkpoint directory a retained checkpoint (<dir>/<job id>/chk-N) belongs to; None where neither
    records one."""
    return _read_plan(location) or _read_plan(location.parent.parent)


def _read_plan(folder: Path) -> str | None:
    record = folder / WINDOW_PLAN_FILE
    return record.read_text().strip() if record.is_file() else None


def record_window_plan(checkpoint_dir: Path, plan: str) -> None:
    """Note the plan a job started with under ``checkpoint_dir`` (or the plan of the job a savepoint directory
    holds): its checkpoints hold that plan's window state."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    (checkpoint_dir / WINDOW_PLAN_FILE).write_text(plan + "\n")
