"""A short path for a deep working directory, for RocksDB's sake.

Flink moves each RocksDB instance's info log into the process's log directory and names it after the
instance's whole path ("tmp_<clone>_.anemos_tmp_cluster_tm-2_..._job_<id>_op_<operator>_uuid_<uuid>_LOG").
It checks that name against the 255-byte limit for the instance itself (FLINK-31743), but not for the
temporary instances a rescaling restore opens one level deeper: from a clone 7 characters deeper than
usual, restoring the rules operator from parallelism 2 to 1 failed with "File name too long", over and
over (tests/faults/test_rescale.py). RocksDB's local directory is therefore a short alias of the real one:
a symlink /tmp/anemos-<8 hex of the target> whose name does not grow with the clone's path. The data
stays where the target is.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

ALIAS_ROOT = Path("/tmp")


def short_alias(target: Path, root: Path = ALIAS_ROOT) -> Path:
    """``root``/anemos-<hash of target>, a symlink to ``target`` (made, or repaired, here).

    Falls back to ``target`` itself, with a warning, where no symlink can be made."""
    target = target.resolve()
    target.mkdir(parents=True, exist_ok=True)
    link = root / f"anemos-{hashlib.sha1(str(target).encode()).hexdigest()[:8]}"
    try:
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return link
        staging = link.with_name(f"{link.name}.{os.getpid()}")
        staging.unlink(missing_ok=True)
        staging.symlink_to(target, target_is_directory=True)
        os.replace(staging, link)  # atomic: a process using the old link never sees none
        return link
    except OSError as err:
        log.warning("no short alias %s for %s (%s): RocksDB works under the long path", link, target, err)
        return target
