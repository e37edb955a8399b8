"""Helpers for tests that run the whole path: bridge, ingest job, Iceberg read-back."""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path

from anemos.platform import Names
from anemos.runner import IngestJob
from iceberg.catalog import committed_row_count, open_catalog
from stack.manager import catalog_properties
from stack.settings import StackSettings


# The idle timeout of the tests that need partitions to turn idle within them (the job's default is never):
# the job's default before the bridge sent heartbeats. A silence of the fleet longer than this must still turn nothing idle.
SHORT_IDLE_TIMEOUT_S = 10


def new_job(
    stack: StackSettings, names: Names, tmp_path: Path, interval_ms: int = 3_000, extra_args: tuple[str, ...] = (),
    checkpoint_dir: Path | None = None,
) -> IngestJob:
    tag = uuid.uuid4().hex[:8]
    return IngestJob(
        stack, names, checkpoint_dir=checkpoint_dir or tmp_path / "checkpoints", consumer_group=f"test-{tag}", job_name=f"test-ingest-{tag}",
        checkpoint_interval_ms=interval_ms, log_path=tmp_path / "job.log", extra_args=extra_args,
    )


def committed_rows(stack: StackSettings, table: str) -> int:
    """Rows in ``table``'s current snapshot, from its summary (no scan)."""
    return committed_row_count(open_catalog(catalog_properties(stack)).load_table(table))


def commit_history(stack: StackSettings, table: str) -> list[tuple[str, str, int]]:
    """(flink.job-id, flink.operator-id, flink.max-committed-checkpoint-id) of each snapshot, oldest first."""
    tbl = open_catalog(catalog_properties(stack)).load_table(table)
    out = []
    for snap in tbl.metadata.snapshots:
        props = snap.summary.additional_properties if snap.summary else {}
        if "flink.max-committed-checkpoint-id" in props:
            out.append((props["flink.job-id"], props["flink.operator-id"], int(props["flink.max-committed-checkpoint-id"])))
    return out


def check_commit_history(history: list[tuple[str, str, int]]) -> list[str]:
    """Oracle point (e): per job and operator, checkpoint ids strictly increase; none is committed twice."""
    problems = []
    last: dict[tuple[str, str], int] = defaultdict(lambda: -1)
    seen: set[tuple[str, int]] = set()
    for job, op, ckpt in history:
        if ckpt <= last[(job, op)]:
            problems.append(f"job {job} operator {op}: checkpoint {ckpt} after {last[(job, op)]}")
        if (op, ckpt) in seen:
            problems.append(f"operator {op}: checkpoint {ckpt} committed twice")
        last[(job, op)] = ckpt
        seen.add((op, ckpt))
    return problems
