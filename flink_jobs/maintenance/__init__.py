"""Iceberg maintenance in the JVM, with Iceberg's own Java API: compaction (Flink's rewrite action), then snapshot expiry.

The plan (what may be expired) comes from ``iceberg.maintenance``; this module only carries it out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from flink_jobs.common.settings import JobSettings
from iceberg.maintenance import SnapshotInfo, plan_expiry

log = logging.getLogger("anemos.maintenance")


@dataclass(frozen=True)
class TableReport:
    table: str
    data_files_before: int
    data_files_after: int
    files_rewritten: int
    files_added: int
    snapshots_before: int
    snapshots_after: int
    expiry_cutoff_ms: int
    flink_anchors: dict[str, int]  # job id -> snapshot id kept for its restore
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _java_catalog(settings: JobSettings, jvm: Any) -> Any:
    c = settings.catalog
    props = jvm.java.util.HashMap()
    for key, value in {
        "uri": c["uri"], "jdbc.user": c["jdbc.user"], "jdbc.password": c["jdbc.password"], "warehouse": c["warehouse"],
        "io-impl": "org.apache.iceberg.aws.s3.S3FileIO", "s3.endpoint": c["s3.endpoint"], "s3.path-style-access": "true",
        "s3.access-key-id": c["s3.access-key-id"], "s3.secret-access-key": c["s3.secret-access-key"], "client.region": c["s3.region"],
    }.items():
        props.put(key, value)
    loader = jvm.org.apache.iceberg.flink.CatalogLoader.custom(
        c["name"], props, jvm.org.apache.hadoop.conf.Configuration(), "org.apache.iceberg.jdbc.JdbcCatalog")
    return loader.loadCatalog()


def _snapshots(table: Any) -> list[SnapshotInfo]:
    return [SnapshotInfo(s.snapshotId(), s.timestampMillis(), dict(s.summary())) for s in table.snapshots()]


def _data_files(table: Any) -> int:
    current = table.currentSnapshot()
    return 0 if current is None else int(current.summary().get("total-data-files") or 0)


def maintain(settings: JobSettings, tables: Sequence[str], *, older_than_ms: int, retain_last: int, compact: bool,
             target_file_bytes: int, job_horizon_ms: int, on_table: Callable[[str], None] | None = None) -> list[TableReport]:
    """Compact, then expire, each of ``tables`` (names inside the settings' namespace)."""
    from pyflink.java_gateway import get_gateway

    from flink_jobs.common.env import create

    env, _t_env = create(settings)  # the JVM with the Iceberg jars, and a mini-cluster for the rewrite
    jvm = get_gateway().jvm
    catalog = _java_catalog(settings, jvm)
    reports = []
    for name in tables:
        if on_table:
            on_table(name)
        started = time.monotonic()
        table = catalog.loadTable(jvm.org.apache.iceberg.catalog.TableIdentifier.parse(settings.table(name)))
        files_before, snaps_before = _data_files(table), len(list(table.snapshots()))
        rewritten = added = 0
        if compact and table.currentSnapshot() is not None:
            result = (jvm.org.apache.iceberg.flink.actions.Actions.forTable(env._j_stream_execution_environment, table)
                      .rewriteDataFiles().targetSizeInBytes(target_file_bytes).execute())
            rewritten, added = len(list(result.deletedDataFiles())), len(list(result.addedDataFiles()))
            table.refresh()
        plan = plan_expiry(_snapshots(table), int(time.time() * 1000), older_than_ms, job_horizon_ms)
        if plan.expirable:
            table.expireSnapshots().expireOlderThan(plan.cutoff_ms).retainLast(retain_last).commit()
            table.refresh()
        report = TableReport(settings.table(name), files_before, _data_files(table), rewritten, added, snaps_before,
                             len(list(table.snapshots())), plan.cutoff_ms,
                             {job: s.snapshot_id for job, s in plan.anchors.items()}, round(time.monotonic() - started, 1))
        log.info("%s: data files %d -> %d (%d rewritten into %d), snapshots %d -> %d, kept Flink anchors %s",
                 report.table, files_before, report.data_files_after, rewritten, added, snaps_before, report.snapshots_after,
                 report.flink_anchors)
        reports.append(report)
    return reports
