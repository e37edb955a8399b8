"""Find retained checkpoints to resume a job from."""

from __future__ import annotations

from pathlib import Path


def latest(checkpoint_dir: Path) -> Path | None:
    """The newest complete checkpoint (a chk-N folder with _metadata) under any job id."""
    done = [m.parent for m in checkpoint_dir.glob("*/chk-*/_metadata")]
    if not done:
        return None
    return max(done, key=lambda p: (p.stat().st_mtime, int(p.name.split("-")[1])))
