"""kill -9 the ingest job mid-stream, resume from its latest checkpoint: nothing lost, nothing twice. The killed
job keeps its RocksDB state with leveled compaction, as versions before universal compaction (flink_jobs.common.env)
did, and the restored one runs the default: a restore across the compaction styles, the way such a deployment
upgrades."""

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from anemos.platform import Names
from anemos.runner import IngestJob, stored_ids, wait_for_rows
from edge_bridge import simulator
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from flink_jobs.common import checkpoints
from stack.settings import PROJECT_ROOT, StackSettings
from reliability.oracle import KillAtBatch
from reliability.pipeline import check_commit_history, commit_history, new_job

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]

FIRST, SECOND = 6_000, 24_000
KILL_AT = 3  # of the second send's 24 batches of 1,000
LEVELED = ("--flink-conf", "state.backend.rocksdb.compaction.style=LEVEL")


def test_sigkill_mid_stream_then_restore_from_latest_checkpoint(stack: StackSettings, names: Names, tmp_path: Path) -> None:
    bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic, dlq_topic=names.dlq_topic)).start()
    target = f"127.0.0.1:{bridge.port}"
    job = new_job(stack, names, tmp_path, interval_ms=2_000, extra_args=LEVELED).start()
    try:
        first_job_id = job.wait_submitted()
        sent = simulator.send(target, FIRST, turbines=5, seed=21, edge_id="edge-fault").accepted_ids
        # at least one checkpoint has committed to Iceberg before the kill
        wait_for_rows(stack, names.readings_table, 1, timeout_s=180)
        early = keep_checkpoint_reference(checkpoints.latest(tmp_path / "checkpoints"), tmp_path / "early")

        second: dict[str, set[str]] = {}
        hook = KillAtBatch(job.kill, at=KILL_AT)  # SIGKILL to the job's process group: client, JVM and Python workers
        sender = threading.Thread(target=lambda: second.setdefault("ids", simulator.send(
            target, SECOND, turbines=5, seed=22, edge_id="edge-fault", on_batch=hook).accepted_ids))
        sender.start()
        hook.wait()
        at_kill = len(stored_ids(stack, names.readings_table))  # the killed job commits nothing more
        sender.join(timeout=120)
        sent |= second["ids"]
        assert len(sent) == FIRST + SECOND
        assert 0 < at_kill <= FIRST + KILL_AT * 1_000 < FIRST + SECOND, f"kill was not mid-stream: {at_kill} rows stored"
        assert checkpoints.latest(tmp_path / "checkpoints") is not None

        job.extra_args = ()
        job.start(restore_latest=True)
        second_job_id = job.wait_submitted()
        ids = wait_for_rows(stack, names.readings_table, len(sent), timeout_s=300, settle_s=8)
        # the restored run has committed since: its predecessor's early checkpoint is older than that
        assert_unsafe_starts_refused(job, early)
    finally:
        job.stop()
        bridge.stop()

    assert second_job_id != first_job_id
    assert "restored_from=file:" in (tmp_path / "job.log").read_text()
    missing, extra = sent - set(ids), set(ids) - sent
    assert (len(ids), len(missing), len(extra)) == (len(sent), 0, 0), f"{len(ids)} rows, {len(missing)} lost, {len(extra)} unexpected"
    assert check_commit_history(commit_history(stack, names.readings_table)) == []


def keep_checkpoint_reference(checkpoint: Path | None, into: Path) -> Path:
    """Keep the _metadata of an early checkpoint under <into>/<job id>/chk-N (only 3 are retained in place), with
    its directory's record of the window plan."""
    assert checkpoint is not None
    kept = into / checkpoint.parent.name / checkpoint.name
    kept.mkdir(parents=True)
    shutil.copy2(checkpoint / "_metadata", kept / "_metadata")
    shutil.copy2(checkpoint.parent.parent / checkpoints.WINDOW_PLAN_FILE, into / checkpoints.WINDOW_PLAN_FILE)
    return kept


def assert_unsafe_starts_refused(job: IngestJob, older: Path) -> None:
    """Starting without state, or from a checkpoint older than the table's newest commit, is refused in one line."""
    for restore, says in (("none", "--fresh-start"), (older.as_uri(), "is older")):
        refused = subprocess.run(job.argv(restore), capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
        lines = [line for line in refused.stderr.splitlines() if "refused" in line]
        assert refused.returncode == 2 and len(lines) == 1 and says in lines[0], refused.stderr[-1500:]
