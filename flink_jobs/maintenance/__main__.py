"""Entry point: python -m flink_jobs.maintenance [--table NAME ...] (compaction, then snapshot expiry)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from flink_jobs.common.settings import JobSettings
from flink_jobs.maintenance import maintain
from iceberg import tables as table_defs
from stack.settings import StackSettings

ALL_TABLES = [define().name for define in table_defs.ALL]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m flink_jobs.maintenance", description=__doc__)
    p.add_argument("--namespace", default="wind", help="Iceberg namespace (default wind)")
    p.add_argument("--table", action="append", choices=ALL_TABLES, help="a table to maintain (repeatable; default all)")
    p.add_argument("--older-than-hours", type=float, default=24.0, help="expire snapshots older than this (default 24)")
    p.add_argument("--retain-last", type=int, default=10, help="always keep this many newest snapshots (default 10)")
    p.add_argument("--no-compact", action="store_true", help="expire only")
    p.add_argument("--target-file-mb", type=int, default=128, help="compaction target file size (default 128)")
    p.add_argument("--flink-job-horizon-days", type=float, default=30.0,
                   help="keep the last commit of every Flink job that committed within this many days (default 30)")
    p.add_argument("--report", type=Path, help="write the report as JSON to this file (the JVM logs to stdout)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.retain_last < 1:
        p.error("--retain-last must be at least 1")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stack = StackSettings()
    settings = JobSettings.from_stack(stack, namespace=args.namespace, job_name="anemos-maintenance",
                                      checkpoint_dir=stack.path("checkpoints", "maintenance"))
    reports = maintain(
        settings, args.table or ALL_TABLES, older_than_ms=int(args.older_than_hours * 3_600_000), retain_last=args.retain_last,
        compact=not args.no_compact, target_file_bytes=args.target_file_mb * 1024 * 1024,
        job_horizon_ms=int(args.flink_job_horizon_days * 86_400_000),
        on_table=lambda name: print(f"maintaining {settings.table(name)}", file=sys.stderr, flush=True),
    )
    if args.report:
        args.report.write_text(json.dumps([r.to_dict() for r in reports], indent=2))
    for r in reports:
        print(f"{r.table}: data files {r.data_files_before} -> {r.data_files_after}, snapshots {r.snapshots_before} -> "
              f"{r.snapshots_after}, Flink anchors kept {list(r.flink_anchors.values())} ({r.seconds}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
