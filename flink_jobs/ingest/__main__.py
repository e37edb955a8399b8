"""Entry point: python -m flink_jobs.ingest [--restore-from latest|PATH] (also `flink run -pym`)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from flink_jobs.common import checkpoints
from flink_jobs.common.settings import JobSettings
from stack.settings import StackSettings

log = logging.getLogger("anemos.ingest")


def parse(argv: list[str]) -> JobSettings:
    p = argparse.ArgumentParser(prog="python -m flink_jobs.ingest", description=__doc__)
    p.add_argument("--restore-from", help="'latest' for the newest retained checkpoint, or a checkpoint path")
    p.add_argument("--checkpoint-interval-ms", type=int)
    p.add_argument("--parallelism", type=int)
    p.add_argument("--consumer-group")
    p.add_argument("--raw-topic")
    p.add_argument("--dlq-topic")
    p.add_argument("--readings-table", help="namespace.table in the Iceberg catalog")
    p.add_argument("--checkpoint-dir", type=Path)
    p.add_argument("--job-name")
    args = p.parse_args(argv)
    stack = StackSettings()
    settings = JobSettings.from_stack(
        stack, checkpoint_interval_ms=args.checkpoint_interval_ms, parallelism=args.parallelism,
        consumer_group=args.consumer_group, raw_topic=args.raw_topic, dlq_topic=args.dlq_topic,
        readings_table=args.readings_table, checkpoint_dir=args.checkpoint_dir, job_name=args.job_name,
    )
    if args.restore_from == "latest":
        found = checkpoints.latest(settings.checkpoint_dir)
        if found is None:
            p.error(f"--restore-from latest: no complete checkpoint under {settings.checkpoint_dir}")
        settings = settings.model_copy(update={"restore_from": found.resolve().as_uri()})
    elif args.restore_from:
        settings = settings.model_copy(update={"restore_from": args.restore_from})
    return settings


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = parse(sys.argv[1:] if argv is None else argv)
    from flink_jobs.common.env import create
    from flink_jobs.ingest.pipeline import build

    _env, t_env = create(settings)
    result = build(t_env, settings).execute()
    client = result.get_job_client()
    job_id = client.get_job_id() if client else "?"
    log.info("job %s (%s) submitted; restored from %s", settings.job_name, job_id, settings.restore_from or "nothing")
    # printed, not logged: Beam's logging set-up in PyFlink can swallow INFO records
    print(f"JOB_ID {job_id} restored_from={settings.restore_from or '-'}", flush=True)

    def cancel(signum: int, _frame: Any) -> None:
        log.info("signal %d: cancelling job %s (checkpoints are retained)", signum, job_id)
        if client is not None:
            client.cancel().result()
        sys.exit(0)

    signal.signal(signal.SIGTERM, cancel)
    signal.signal(signal.SIGINT, cancel)
    result.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
