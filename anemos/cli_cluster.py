"""CLI for the standalone Flink cluster: the jobs as production runs them, with real TaskManagers to lose."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from anemos.output import JsonOpt, console, emit
from cluster import MAX_TASKMANAGERS
from stack.settings import StackSettings

cluster_app = typer.Typer(help="A standalone Flink cluster (1 JobManager, N TaskManagers) from the bundled distribution.",
                          no_args_is_help=True)


def _cluster(taskmanagers: int = 2):  # type: ignore[no-untyped-def]
    from cluster.flink import ClusterSettings, FlinkCluster

    return FlinkCluster(StackSettings(), ClusterSettings(taskmanagers=taskmanagers))


def _table(st: dict) -> Table:  # type: ignore[type-arg]
    t = Table("taskmanager", "slots", "free", title=f"Flink cluster {st['rest']} ({st['jobs_running']} jobs running)")
    for tm in st["taskmanagers"]:
        t.add_row(tm["id"], str(tm["slots"]), str(tm["free"]))
    return t


@cluster_app.command("up")
def cluster_up(taskmanagers: Annotated[int, typer.Option(min=1, max=MAX_TASKMANAGERS, help="TaskManagers (2 slots each)")] = 2,
               as_json: JsonOpt = False) -> None:
    """Start the JobManager and TaskManagers that are not running; wait for every slot."""
    with console.status("starting the Flink cluster"):
        st = _cluster(taskmanagers).up()
    emit(st, as_json, _table(st))


@cluster_app.command("down")
def cluster_down(as_json: JsonOpt = False) -> None:
    """Stop the cluster's processes (checkpoints are kept)."""
    stopped = _cluster().down()
    emit({"stopped": stopped}, as_json, f"stopped: {', '.join(stopped) or 'nothing was running'}")


@cluster_app.command("status")
def cluster_status(as_json: JsonOpt = False) -> None:
    """TaskManagers, slots and running jobs, from the JobManager's REST API."""
    st = _cluster().status()
    emit(st, as_json, _table(st))


@cluster_app.command("submit", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def cluster_submit(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """flink run -d the stream job on the cluster; extra flags go to the job (python -m flink_jobs.ingest --help)."""
    stack = StackSettings()
    job_id = _cluster().submit(list(ctx.args), stack.path("logs", "cluster-submit.log"))
    emit({"job_id": job_id}, as_json, f"submitted job {job_id}; web UI and REST on {_cluster().rest}")


@cluster_app.command("stop")
def cluster_stop(job_id: Annotated[str, typer.Argument(help="the Flink job id")],
                 savepoint_dir: Annotated[Path, typer.Option(help="where the savepoint goes")] = Path(".anemos/savepoints"),
                 as_json: JsonOpt = False) -> None:
    """Stop a job with a savepoint, for an upgrade: submit the new version with --restore-from the printed path.
    The job later refuses a savepoint older than its tables' newest commit."""
    from cluster.flink import ClusterError

    try:
        with console.status(f"stopping job {job_id} with a savepoint"):
            location = _cluster().stop_with_savepoint(job_id, savepoint_dir.resolve())
    except ClusterError as exc:
        console.print(f"anemos: error: {exc}", markup=False)
        raise typer.Exit(1) from None
    emit({"job_id": job_id, "savepoint": location}, as_json, f"job {job_id} stopped; savepoint {location}")


@cluster_app.command("kill-taskmanager")
def cluster_kill_tm(index: Annotated[int, typer.Argument(help="which TaskManager (1..N)")],
                    restart: Annotated[bool, typer.Option(help="start it again right away")] = False) -> None:
    """kill -9 one TaskManager and its Python workers (a real failover), optionally starting it again."""
    import signal

    c = _cluster()
    pid = c.kill_taskmanager(index, signal.SIGKILL)
    if restart:
        c.start_taskmanager(index)
    emit({"killed_pid": pid}, False, f"taskmanager {index} (pid {pid}) killed{'; started again' if restart else ''}")



@cluster_app.command("committers")
def cluster_committers(job_id: Annotated[str, typer.Argument(help="the Flink job id")], as_json: JsonOpt = False) -> None:
    """Transactions each sink committer committed, retried and gave up on (this attempt of the job). Exit 3 when
    a sink gave up on one: for Kafka that is a transaction the broker aborted (an outage longer than the
    transaction timeout), whose rows only Iceberg holds; `anemos repair-kafka` publishes them again."""
    out = _cluster().sink_committables(job_id)
    t = Table("sink", "committed", "already committed", "retried", "pending", "gave up", title=f"job {job_id}: sink committers")
    for sink, m in sorted(out.items()):
        t.add_row(sink, *(f"{m.get(k, 0):,}" for k in ("successfulCommittables", "alreadyCommittedCommittables",
                                                        "retriedCommittables", "pendingCommittables", "failedCommittables")))
    failed = {sink: m["failedCommittables"] for sink, m in out.items() if m.get("failedCommittables", 0) > 0}
    emit({"job_id": job_id, "committers": out, "failed": failed}, as_json, t)
    if failed:
        console.print(f"DATA AT RISK: {', '.join(f'{s} gave up on {n}' for s, n in failed.items())} transaction(s); their "
                      "rows are in Iceberg only. Run `anemos repair-kafka` once Kafka is healthy.", markup=False)
        raise typer.Exit(3)


def repair_kafka(
    outputs: Annotated[str, typer.Option(help="comma-separated: aggregates, alerts, dlq")] = "aggregates,alerts,dlq",
    since_minutes: Annotated[float, typer.Option(min=1, help="Iceberg commits of the last N minutes are compared")] = 120,
    settle_s: Annotated[float, typer.Option(min=0, help="leave the newest commits alone (their Kafka commit may be in flight)")] = 60,
    dry_run: Annotated[bool, typer.Option(help="report what is missing, publish nothing")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Publish again the output rows that Iceberg committed and Kafka lost (a transaction the broker aborted
    after an outage longer than the transaction timeout). Rows already on Kafka are never published twice."""
    import time

    from anemos import repair
    from anemos.platform import Names

    chosen = [o.strip() for o in outputs.split(",") if o.strip()]
    unknown = [o for o in chosen if o not in repair.OUTPUTS]
    if unknown or not chosen:
        raise typer.BadParameter(f"unknown output {', '.join(unknown) or '(none)'}; choose from {', '.join(repair.OUTPUTS)}",
                                 param_hint="--outputs")
    since_ms = int((time.time() - since_minutes * 60) * 1000)
    with console.status("comparing Iceberg with Kafka"):
        done = repair.repair(StackSettings(), Names(), chosen, since_ms, settle_s=settle_s, dry_run=dry_run)
    t = Table("output", "topic", "Iceberg rows", "on Kafka", "missing", "published", title="repair-kafka" + (" (dry run)" if dry_run else ""))
    for r in done:
        t.add_row(r.output, r.topic, f"{r.iceberg_rows:,}", f"{r.on_kafka:,}", f"{r.missing:,}", f"{r.produced:,}")
    from dataclasses import asdict

    emit([asdict(r) for r in done], as_json, t)


def restate_windows(
    since_minutes: Annotated[float, typer.Option(min=1, help="late readings committed in the last N minutes")] = 120,
    settle_s: Annotated[float, typer.Option(min=0, help="leave the newest late readings for a later run")] = 60,
    sample_interval_ms: Annotated[int, typer.Option(min=1, help="sampling interval of a channel (the coverage base)")] = 1_000,
    dry_run: Annotated[bool, typer.Option(help="report what would be restated, write nothing")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Restate the 10-minute window rows that late readings fell in: a new version computed from on-time and
    late readings, appended to Iceberg, upserted into Postgres and published on Kafka. Idempotent."""
    import time
    from dataclasses import asdict

    from anemos import restate
    from anemos.platform import Names

    since_ms = int((time.time() - since_minutes * 60) * 1000)
    with console.status("restating 10-minute windows"):
        report = restate.restate(StackSettings(), Names(), since_ms, settle_s=settle_s,
                                 sample_interval_ms=sample_interval_ms, dry_run=dry_run)
    human = (f"{report.late_readings:,} late readings in {report.windows:,} windows: {report.restated:,} "
             f"{'to restate' if dry_run else 'restated'}, {report.unchanged:,} already current"
             + "".join(f"\n  {line}" for line in report.sample))
    emit(asdict(report), as_json, human)


def chaos(
    minutes: Annotated[float, typer.Option(min=1, max=240, help="how long the stream runs under faults")] = 15,
    seed: Annotated[int, typer.Option(help="seeds the scenario, the fault order, the gaps and the hold times")] = 1,
    faults: Annotated[str, typer.Option(help="comma-separated faults to draw from, or 'all': "
                                        "taskmanager-kill, taskmanager-kill-at-commit, python-worker-kill, taskmanager-pause, "
                                        "kafka-kill, kafka-kill-at-commit, postgres-stop, s3-stop, redis-kill")] = "all",
    gap_min: Annotated[float, typer.Option(min=5, help="least seconds between faults")] = 30,
    gap_max: Annotated[float, typer.Option(min=5, help="most seconds between faults")] = 60,
    idle_timeout_s: Annotated[Optional[int], typer.Option(
        min=0, help="the job's idle timeout in seconds (default: the job's, 0 = never idle); 10 shows how a broker "
                    "kill made readings late with idleness on")] = None,
    results: Annotated[Optional[Path], typer.Option(help="write the report here (JSON)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Stream the oracle's scenario through the whole path on the standalone cluster while injecting faults
    every 30 to 60 s; then check oracle points a to g. Exit 0 only when every point holds."""
    from reliability import chaos as chaos_run
    from reliability import faults as fault_kinds

    try:
        chosen = fault_kinds.parse(faults)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from None
    if gap_max < gap_min:
        raise typer.BadParameter("must be at least --gap-min", param_hint="--gap-max")
    settings = chaos_run.ChaosSettings(minutes=minutes, seed=seed, faults=chosen, gap_s=(gap_min, gap_max),
                                       idle_timeout_s=idle_timeout_s)
    say = (lambda _m: None) if as_json else (lambda m: console.print(m, markup=False, highlight=False, soft_wrap=True))
    report = chaos_run.run(StackSettings(), settings, on_event=say)
    command = " ".join(["anemos chaos", f"--minutes {minutes:g}", f"--seed {seed}", f"--faults {faults}",
                        f"--gap-min {gap_min:g}", f"--gap-max {gap_max:g}",
                        *([f"--idle-timeout-s {idle_timeout_s}"] if idle_timeout_s is not None else [])])
    path = chaos_run.write_results(report, command, results or chaos_run.RESULTS)
    emit(report.to_dict(), as_json, _chaos_tables(report, path))
    if not report.ok:
        raise typer.Exit(1)


def _chaos_tables(report, path: Path) -> Group:  # type: ignore[no-untyped-def]
    faults = Table("at (s)", "fault", "what was done", "outage (s)", "next commit (s)",
                   title=f"Faults injected (seed {report.seed}, {report.minutes:g} min)")
    for i in report.injected:
        recovered = i.error or ("-" if i.recovered_s is None else f"{i.recovered_s:g}")
        faults.add_row(f"{i.at_s:g}", i.fault, i.detail, f"{i.outage_s:g}", recovered)
    counts = Table("what", "count", title="The sinks")
    for k, v in report.counts.items():
        counts.add_row(k, f"{v:,}")
    verdict = ("ORACLE HOLDS: points a-f hold, every fault recovered within "
               f"{report.recovery_bound_s:g}s (g); restored from a checkpoint {report.restored_from_checkpoint} times"
               if report.ok else "ORACLE FAILED:\n" + "\n".join(report.problems or ["(g) a fault did not recover in time"]))
    return Group(faults, counts, Text(verdict), Text(f"results: {path}"))
