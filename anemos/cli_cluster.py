"""CLI for the standalone Flink cluster: the jobs as production runs them, with real TaskManagers to lose."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from anemos.output import JsonOpt, console, emit
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
def cluster_up(taskmanagers: Annotated[int, typer.Option(min=1, max=8, help="TaskManagers (2 slots each)")] = 2,
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

