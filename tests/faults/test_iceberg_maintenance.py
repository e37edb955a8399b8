"""Compaction and snapshot expiry between a kill -9 and the restore: the restored job finds its last commit
(the snapshot expiry kept for it) and commits nothing twice; the table keeps exactly the readings sent."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from anemos.platform import Names
from anemos.runner import stored_ids, wait_for_rows
from edge_bridge import simulator
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from iceberg.catalog import open_catalog
from iceberg.maintenance import FLINK_JOB_ID
from stack.manager import catalog_properties
from stack.settings import PROJECT_ROOT, StackSettings
from reliability.pipeline import new_job

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]

FIRST, SECOND, THIRD = 4_000, 12_000, 4_000
CHUNKS = 4


def test_maintenance_between_kill_and_restore_loses_and_doubles_nothing(stack: StackSettings, names: Names, tmp_path: Path) -> None:
    bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic,
                                              dlq_topic=names.dlq_topic)).start()
    target = f"127.0.0.1:{bridge.port}"
    job = new_job(stack, names, tmp_path, interval_ms=2_000).start()
    try:
        job.wait_submitted()
        sent: set[str] = set()
        for chunk in range(CHUNKS):  # one commit (at least) per chunk: small files and several snapshots
            sent |= simulator.send(target, FIRST // CHUNKS, turbines=5, seed=31 + 100 * chunk, edge_id="edge-maint").accepted_ids
            wait_for_rows(stack, names.readings_table, len(sent), timeout_s=180)
        second: dict[str, set[str]] = {}
        sender = threading.Thread(target=lambda: second.setdefault(
            "ids", simulator.send(target, SECOND, turbines=5, seed=32, edge_id="edge-maint").accepted_ids))
        sender.start()
        time.sleep(2.5)
        job.kill()
        sender.join(timeout=120)
        sent |= second["ids"]

        table = open_catalog(catalog_properties(stack)).load_table(names.readings_table)
        flink_snapshots = [s.snapshot_id for s in table.snapshots() if FLINK_JOB_ID in (s.summary.additional_properties if s.summary else {})]
        report_path = tmp_path / "maintenance.json"
        done = subprocess.run(
            [sys.executable, "-m", "flink_jobs.maintenance", "--namespace", names.namespace, "--table", "readings",
             "--older-than-hours", "0", "--retain-last", "1", "--target-file-mb", "64", "--report", str(report_path)],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        [report] = json.loads(report_path.read_text())
        assert report["data_files_after"] < report["data_files_before"], report
        assert report["snapshots_after"] < report["snapshots_before"], report
        assert list(report["flink_anchors"].values()) == [flink_snapshots[-1]], "the last Flink commit is the anchor"
        kept = {s.snapshot_id for s in table.refresh().snapshots()}
        assert flink_snapshots[-1] in kept and flink_snapshots[0] not in kept
        assert len(stored_ids(stack, names.readings_table)) == len(set(stored_ids(stack, names.readings_table)))

        job.start(restore_latest=True)
        job.wait_submitted()
        sent |= simulator.send(target, THIRD, turbines=5, seed=33, edge_id="edge-maint").accepted_ids
        ids = wait_for_rows(stack, names.readings_table, len(sent), timeout_s=300, settle_s=8)
    finally:
        job.stop()
        bridge.stop()
    missing, extra = sent - set(ids), len(ids) - len(set(ids))
    assert (len(ids), len(missing), extra) == (FIRST + SECOND + THIRD, 0, 0), f"{len(ids)} rows, {len(missing)} lost, {extra} doubled"
