"""Entry point: python -m flink_jobs.ingest [--restore-from latest|PATH] (also `flink run -pym`)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flink_jobs.common import checkpoints
from flink_jobs.common.settings import JobSettings, flink_conf_items
from stack.settings import StackSettings

log = logging.getLogger("anemos.ingest")

EXIT_JOB_GONE = 3  # the job failed for good, or its local Flink JVM died: restart it from the latest checkpoint
PROG = "python -m flink_jobs.ingest"  # what a refusal line starts with (cluster.flink reads it from the log)


def parse(argv: list[str]) -> tuple[JobSettings, bool]:
    """The job's settings, and whether to return as soon as it is submitted."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__)
    p.add_argument("--restore-from", default="auto",
                   help="'auto' (default): the newest retained checkpoint if there is one; 'latest': it must exist; "
                        "'none': no state; or a checkpoint or savepoint path")
    p.add_argument("--checkpoint-interval-ms", type=int, help="how often the job checkpoints and commits (default 10000)")
    p.add_argument("--checkpoint-min-pause-ms", type=int,
                   help="least time between one checkpoint's end and the next one's start (default 1000; 0 lets "
                        "checkpoints come back to back, for alerts within a checkpoint of their reading)")
    p.add_argument("--parallelism", type=int)
    p.add_argument("--consumer-group")
    p.add_argument("--raw-topic")
    p.add_argument("--dlq-topic")
    p.add_argument("--aggregates-topic")
    p.add_argument("--alerts-topic")
    p.add_argument("--namespace", help="Iceberg namespace of the job's tables (default wind)")
    p.add_argument("--redis-prefix", help="prefix of the job's Redis keys (default anemos)")
    p.add_argument("--watermark-bound-s", type=float,
                   help="bounded out-of-orderness of telemetry.raw, in seconds; fractions count to the millisecond (default 5)")
    p.add_argument("--idle-timeout-s", type=int,
                   help="a partition of telemetry.raw with no record, reading or bridge heartbeat, this long stops "
                        "holding the watermark back; 0 (the default): never, so an outage of the bridge or the broker "
                        "is waited out (set it only for a topic written without the bridge's heartbeats)")
    p.add_argument("--partition-fetch-bytes", type=int,
                   help="most bytes fetched from one partition of telemetry.raw per request (default 1 MiB, or 64 KiB "
                        "with an idle timeout, so that no partition waits its turn long enough to be taken for idle)")
    p.add_argument("--loss-after-ms", type=int, help="event-time silence before a telemetry_loss alert")
    p.add_argument("--sample-interval-ms", type=int, help="sampling interval of a channel (coverage)")
    p.add_argument("--hot-flush-ms", type=int,
                   help="how often the window rows waiting for Postgres are upserted, one transaction per table "
                        "(default 200)")
    p.add_argument("--checkpoint-dir", type=Path)
    p.add_argument("--tolerable-failed-checkpoints", type=int,
                   help="checkpoints that may fail in a row (a full disk) before the job restarts (default 0)")
    p.add_argument("--kafka-transaction-timeout-ms", type=int,
                   help="Kafka sink transaction timeout (default 15 min): a Kafka outage longer than this aborts the "
                        "transactions of completed checkpoints (see `anemos cluster sinks`)")
    p.add_argument("--managed-memory-mb", type=int,
                   help="managed memory of the local mini-cluster's slot, RocksDB's cache and write buffers and the "
                        "Python workers (default 1024; a cluster's TaskManagers set their own)")
    p.add_argument("--window-plan", choices=("direct", "cascade"),
                   help="how the windows are computed: direct (each reads the readings) or cascade (the 10-minute and "
                        "site-hour windows made of the 1-minute rows); default: the plan recorded for the state "
                        "restored, else cascade")
    p.add_argument("--flink-conf", action="append", default=[], metavar="KEY=VALUE",
                   help="extra Flink configuration, applied last; repeatable (also ANEMOS_JOB_FLINK_CONF as JSON)")
    p.add_argument("--job-name")
    p.add_argument("--detach", action="store_true", help="return once submitted (flink run -d on a cluster)")
    p.add_argument("--catalog-uri", help="JDBC URI of the Iceberg catalog when the job reaches it by another route "
                                          "than the stack's (a pooler, a proxy)")
    p.add_argument("--fresh-start", action="store_true",
                   help="start without state even though the tables hold this pipeline's commits (msg_id memory is lost)")
    args = p.parse_args(argv)
    try:
        flink_conf = flink_conf_items(args.flink_conf)
    except ValueError as err:
        p.error(str(err))
    stack = StackSettings()
    try:
        settings = JobSettings.from_stack(
            stack, checkpoint_interval_ms=args.checkpoint_interval_ms, checkpoint_min_pause_ms=args.checkpoint_min_pause_ms,
            parallelism=args.parallelism,
            consumer_group=args.consumer_group, raw_topic=args.raw_topic, dlq_topic=args.dlq_topic,
            aggregates_topic=args.aggregates_topic, alerts_topic=args.alerts_topic, namespace=args.namespace,
            redis_prefix=args.redis_prefix, watermark_bound_s=args.watermark_bound_s, idle_timeout_s=args.idle_timeout_s,
            partition_fetch_bytes=args.partition_fetch_bytes,
            loss_after_ms=args.loss_after_ms, hot_flush_ms=args.hot_flush_ms,
            sample_interval_ms=args.sample_interval_ms, checkpoint_dir=args.checkpoint_dir, job_name=args.job_name,
            tolerable_failed_checkpoints=args.tolerable_failed_checkpoints,
            kafka_transaction_timeout_ms=args.kafka_transaction_timeout_ms, managed_memory_mb=args.managed_memory_mb,
            window_plan=args.window_plan,
        )
    except ValidationError as err:  # a value out of range, from a flag or ANEMOS_JOB_*: one line, exit 2
        first = err.errors()[0]
        p.error(f"--{'-'.join(str(x) for x in first['loc']).replace('_', '-')}: {first['msg']} (got {first.get('input')!r})")
    if flink_conf:
        settings = settings.model_copy(update={"flink_conf": {**settings.flink_conf, **flink_conf}})
    if args.catalog_uri:
        if not args.catalog_uri.startswith("jdbc:"):
            p.error(f"--catalog-uri must be a jdbc: URI, not {args.catalog_uri!r}")
        settings = settings.model_copy(update={"catalog": {**settings.catalog, "uri": args.catalog_uri}})
    if args.restore_from in ("latest", "auto"):
        found = checkpoints.latest(settings.checkpoint_dir)
        if found is None and args.restore_from == "latest":
            p.error(f"--restore-from latest: no complete checkpoint under {settings.checkpoint_dir}")
        if found is not None:
            settings = settings.model_copy(update={"restore_from": found.resolve().as_uri()})
    elif args.restore_from != "none":
        settings = settings.model_copy(update={"restore_from": args.restore_from})
    settings, problem = with_window_plan(settings)
    if problem is not None:
        sys.exit(_refuse(problem))
    if not args.fresh_start:
        problem = start_refusal(settings)
        if problem is not None:
            sys.exit(_refuse(problem))
    return settings, args.detach


def _refuse(problem: str) -> int:
    """One line on stderr, the form `anemos cluster submit` finds in Flink's log; the exit code of a refusal."""
    print(f"{PROG}: refused: {problem}", file=sys.stderr)
    return 2


def with_window_plan(settings: JobSettings) -> tuple[JobSettings, str | None]:
    """The settings with the window plan the job will run, and a refusal when it cannot: a restore keeps the plan
    its state was made with (the windows' state differs between the plans, and Flink fails such a restore in a
    window operator and restarts without end). Unset, the plan is the one recorded for the state: in the
    checkpoint directory (none recorded there: direct, the plan of every version before the plans), in a
    savepoint's directory (`anemos cluster stop` records it), or in the directory of a retained checkpoint from
    elsewhere. A restore whose plan is recorded nowhere needs the flag; a start without state runs cascade."""
    made_with = None
    if settings.restore_from is not None:
        restored = checkpoints.local_path(settings.restore_from).resolve()
        if restored.is_relative_to(settings.checkpoint_dir.resolve()):
            made_with = checkpoints.recorded_window_plan(settings.checkpoint_dir)
        else:
            made_with = checkpoints.savepoint_window_plan(restored)
            if made_with is None and settings.window_plan is None:
                return settings, (f"the window plan of {settings.restore_from} is not recorded (a savepoint taken "
                                  f"without `anemos cluster stop`, or a checkpoint copied without its directory's "
                                  f"{checkpoints.WINDOW_PLAN_FILE} file): pass --window-plan direct (its state was made by "
                                  f"a version before the plans, or with that flag) or --window-plan cascade")
    plan = settings.window_plan or made_with or checkpoints.NEW_DEPLOYMENT_PLAN
    settings = settings.model_copy(update={"window_plan": plan})
    if made_with is None or made_with == plan:
        return settings, None
    return settings, (f"the checkpoint to restore ({settings.restore_from}) holds the {made_with} window plan's "
                      f"state, not the {plan} plan's: keep --window-plan {made_with}, or start the {plan} plan "
                      f"without state (--restore-from none --fresh-start; README, \"Window plans\")")


def missing_tables(settings: JobSettings) -> str | None:
    """The job writes seven Iceberg tables and creates none: name the missing ones (else Flink's planner fails
    the submit with a Java stack trace about the first)."""
    from iceberg.catalog import open_catalog
    from iceberg.tables import ALL

    catalog = open_catalog(settings.catalog)
    missing = [name for name in (settings.table(t().name) for t in ALL) if not catalog.table_exists(name)]
    if not missing:
        return None
    return (f"{len(missing)} of the job's {len(ALL)} Iceberg tables do not exist ({', '.join(missing)}); "
            f"`anemos setup` creates them, with the topics and the registry subject")


def start_refusal(settings: JobSettings) -> str | None:
    """Refuse a start that would lose or double data, judged against the raw table's Flink commits."""
    from pyiceberg.exceptions import NoSuchTableError

    from iceberg.catalog import open_catalog
    from iceberg.lineage import CheckpointRef, newest_commit, refusal
    from iceberg.maintenance import SnapshotInfo

    try:
        table = open_catalog(settings.catalog).load_table(settings.table("readings"))
    except NoSuchTableError:
        return None
    snaps = [SnapshotInfo(s.snapshot_id, s.timestamp_ms, dict(s.summary.additional_properties) if s.summary else {})
             for s in table.snapshots()]
    path = settings.restore_from
    ref = None
    if path is not None:
        metadata = checkpoints.local_path(path) / "_metadata"
        head = metadata.open("rb").read(16) if metadata.exists() else None
        ref = CheckpointRef.parse(path, int(metadata.stat().st_mtime * 1000) if metadata.exists() else None, head)
    return refusal(settings.table("readings"), newest_commit(snaps), ref, path)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings, detach = parse(sys.argv[1:] if argv is None else argv)
    problem = missing_tables(settings)
    if problem is not None:
        return _refuse(problem)
    from flink_jobs.common.env import create
    from flink_jobs.ingest.pipeline import build

    env, t_env = create(settings)
    build(env, t_env, settings)
    client = env.execute_async(settings.job_name)
    checkpoints.record_window_plan(settings.checkpoint_dir, settings.effective_window_plan)
    job_id = str(client.get_job_id())  # a string now: rendering the Java JobID later needs a live JVM
    log.info("job %s (%s) submitted; restored from %s", settings.job_name, job_id, settings.restore_from or "nothing")
    # printed, not logged: Beam's logging set-up in PyFlink can swallow INFO records
    print(f"JOB_ID {job_id} restored_from={settings.restore_from or '-'}", flush=True)
    if detach:
        return 0

    def cancel(signum: int, _frame: Any) -> None:
        log.info("signal %d: cancelling job %s (checkpoints are retained)", signum, job_id)
        client.cancel().result()
        sys.exit(0)

    signal.signal(signal.SIGTERM, cancel)
    signal.signal(signal.SIGINT, cancel)
    try:
        client.get_job_execution_result().result()
    except Exception as err:  # the job failed for good, or the local mini-cluster's JVM is gone
        log.error("job %s is gone (%s: %s); exiting %d so that a supervisor restarts it from its latest checkpoint",
                  job_id, type(err).__name__, (str(err).splitlines() or [""])[0], EXIT_JOB_GONE)
        logging.shutdown()
        # at once, with its own code, whatever PyFlink's gateway threads are still doing with the dead JVM
        os._exit(EXIT_JOB_GONE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
