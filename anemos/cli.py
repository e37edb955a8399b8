"""anemos: one CLI for the local stack, the pipeline, the end-to-end run and the tests."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from anemos import cli_cluster, cli_ops
from anemos.output import JsonOpt, console, emit
from stack.settings import PROJECT_ROOT, StackSettings

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
stack_app = typer.Typer(help="The embedded local services: Kafka, registry, S3, Postgres, Redis.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")


@app.callback()
def main_options(
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML settings file (its table 'stack')", exists=True, dir_okay=False)] = None,
    log_level: Annotated[str, typer.Option("--log-level", envvar="ANEMOS_LOG_LEVEL", help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Settings come from flags, then ANEMOS_* environment variables, then the --config file."""
    if config is not None:
        os.environ["ANEMOS_CONFIG"] = str(config)
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "py4j", "pyiceberg"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# -- stack ------------------------------------------------------------------------------
def _status_table(st: dict[str, Any]) -> Table:
    t = Table("service", "pid", "answering", "endpoint", title=f"local stack ({st['state_dir']})")
    for name, svc in st["services"].items():
        endpoint = svc.get("bootstrap_servers") or svc.get("url") or svc.get("endpoint") or svc.get("dsn")
        t.add_row(name, str(svc["pid"] or "-"), "yes" if svc["answering"] else "no", str(endpoint))
    t.add_row("iceberg catalog", "", "", f"{st['iceberg_catalog']['uri']} -> {st['iceberg_catalog']['warehouse']}")
    t.add_row("edge bridge", "", "", st["edge_bridge"]["address"])
    t.add_row("command gate", "", "", st["command_gate"]["address"])
    return t


@stack_app.command("up")
def stack_up(as_json: JsonOpt = False) -> None:
    """Install what is missing and start every service on loopback (idempotent)."""
    from stack import manager

    with console.status("starting the local stack") as status:
        st = manager.up(StackSettings(), on_step=lambda name: status.update(f"starting {name}"))
    emit(st, as_json, _status_table(st))


@stack_app.command("down")
def stack_down(as_json: JsonOpt = False) -> None:
    """Stop the services this stack started (by recorded pid); data is kept."""
    from cluster.flink import FlinkCluster
    from stack import manager

    settings = StackSettings()
    cluster = FlinkCluster(settings)
    cluster_stopped = cluster.down() if cluster.running() else []  # the cluster's jobs use the stack's services
    stopped = cluster_stopped + manager.down(settings)
    emit({"stopped": stopped}, as_json, f"stopped: {', '.join(stopped) or 'nothing was running'}")


@stack_app.command("status")
def stack_status(as_json: JsonOpt = False) -> None:
    """Every endpoint and credential, and whether each service answers."""
    from stack import manager

    st = manager.status(StackSettings())
    emit(st, as_json, _status_table(st))


# -- pipeline -----------------------------------------------------------------------------
@app.command("setup")
def setup(as_json: JsonOpt = False) -> None:
    """Create topics, the registry subject (BACKWARD_TRANSITIVE) and Iceberg tables on a running stack."""
    from anemos import platform

    out = platform.ensure(StackSettings())
    emit(out, as_json, f"topics created: {out['topics_created'] or 'none'}; schema id {out['schema_id']}; tables {out['tables']}")


@app.command("bridge")
def bridge(
    listen: Annotated[Optional[str], typer.Option(help="host:port to serve gRPC on")] = None,
    plaintext: Annotated[bool, typer.Option("--plaintext", help="no TLS, no gateway identity: loopback development only")] = False,
    metrics_port: Annotated[Optional[int], typer.Option(help="serve Prometheus /metrics on 127.0.0.1:PORT")] = None,
    heartbeat_interval_s: Annotated[Optional[float], typer.Option(
        min=0, help="seconds between heartbeats to quiet partitions of the raw topic; 0 turns them off (default 1)")] = None,
    heartbeat_quiet_s: Annotated[Optional[float], typer.Option(
        min=0.001, help="a partition without a record this long gets heartbeats (default 2)")] = None,
) -> None:
    """Serve the edge bridge (gRPC IngestService, mTLS) until SIGTERM; drains in-flight batches."""
    from edge_bridge.server import serve
    from edge_bridge.settings import BridgeSettings

    serve(BridgeSettings.from_stack(StackSettings(), listen=listen, plaintext=plaintext or None, metrics_port=metrics_port,
                                    heartbeat_interval_s=heartbeat_interval_s, heartbeat_quiet_s=heartbeat_quiet_s))


certs_app = typer.Typer(help="The development PKI: a local CA, the bridge certificate, edge certificates.", no_args_is_help=True)
app.add_typer(certs_app, name="certs")


@certs_app.command("init")
def certs_init(as_json: JsonOpt = False) -> None:
    """Create the local CA and the bridge's server certificate (once) in <state>/certs."""
    from edge_bridge.certs import ensure_dev_pki

    pki = ensure_dev_pki(StackSettings().path("certs"))
    out = {"ca": str(pki.ca.cert), "server_cert": str(pki.server.cert), "server_key": str(pki.server.key)}
    emit(out, as_json, "\n".join(f"{k}: {v}" for k, v in out.items()))


@certs_app.command("edge")
def certs_edge(edge_id: Annotated[str, typer.Argument(help="gateway id; becomes the certificate's Common Name")], as_json: JsonOpt = False) -> None:
    """Issue (once) the client certificate of edge gateway EDGE_ID."""
    from edge_bridge.certs import ensure_dev_pki
    from udfs.validation import ID_PATTERN

    if ID_PATTERN.fullmatch(edge_id) is None:
        raise typer.BadParameter(f"{edge_id!r} does not match {ID_PATTERN.pattern}")
    pki = ensure_dev_pki(StackSettings().path("certs"))
    issued = pki.edge(edge_id)
    out = {"edge_id": edge_id, "cert": str(issued.cert), "key": str(issued.key), "ca": str(pki.ca.cert)}
    emit(out, as_json, "\n".join(f"{k}: {v}" for k, v in out.items()))


@app.command("ingest", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ingest(ctx: typer.Context) -> None:
    """Run the ingest Flink job on the local mini-cluster (flags: python -m flink_jobs.ingest --help)."""
    raise typer.Exit(subprocess.call([sys.executable, "-m", "flink_jobs.ingest", *ctx.args], cwd=PROJECT_ROOT))


@app.command("maintain", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def maintain(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Compact the Iceberg tables, then expire old snapshots, never the one a restored Flink job needs.

    Flags go to python -m flink_jobs.maintenance (--table, --older-than-hours, --retain-last, --no-compact, ...)."""
    import tempfile

    stack = StackSettings()
    log_path = stack.path("logs", "maintenance.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, open(log_path, "ab") as log_file, console.status("compacting and expiring"):
        report_path = Path(tmp) / "report.json"
        code = subprocess.call([sys.executable, "-m", "flink_jobs.maintenance", *ctx.args, "--report", str(report_path)],
                               cwd=PROJECT_ROOT, stdout=log_file)
        if code != 0:
            raise RuntimeError(f"maintenance failed (exit {code}); see {log_path}")
        report = json.loads(report_path.read_text())
    table = Table("table", "data files", "snapshots", "Flink anchors kept", "seconds")
    for r in report:
        table.add_row(r["table"], f"{r['data_files_before']} -> {r['data_files_after']}",
                      f"{r['snapshots_before']} -> {r['snapshots_after']}", str(len(r["flink_anchors"])), str(r["seconds"]))
    emit(report, as_json, table)


@app.command("sinks")
def sinks(as_json: JsonOpt = False) -> None:
    """What the stream job has written: Iceberg rows per table, Postgres hot rows, Redis LKG turbines, Kafka offsets."""
    from anemos.observe import sink_counts

    out = sink_counts(StackSettings())
    t = Table("sink", "rows / records", title="anemos sinks")
    for ident, n in out["iceberg_rows"].items():
        t.add_row(f"Iceberg {ident}", f"{n:,}")
    for name, n in out["postgres_rows"].items():
        t.add_row(f"Postgres {name}", f"{n:,}")
    t.add_row("Redis last-known-good turbines", f"{out['redis_lkg_turbines']:,}")
    for topic, n in out["kafka_offsets"].items():
        t.add_row(f"Kafka {topic} (offsets)", f"{n:,}")
    emit(out, as_json, t)


@app.command("demo")
def demo(
    readings: Annotated[int, typer.Option(min=1, help="readings to send")] = 20_000,
    turbines: Annotated[int, typer.Option(min=1, help="simulated turbines")] = 8,
    seed: Annotated[int, typer.Option(help="simulator seed")] = 1,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the rows in Iceberg")] = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """End to end on the local stack: gRPC -> Kafka -> PyFlink -> Iceberg, Postgres, Redis; sent vs stored."""
    from anemos import demo as demo_mod

    result = demo_mod.run(StackSettings(), readings, turbines, seed, timeout, quiet=as_json)
    t = Table("", "readings", title=f"anemos demo ({result.edge_id}, {result.seconds}s)")
    for label, value in (
        ("sent through gRPC", result.sent), ("acknowledged by the bridge", result.acknowledged),
        ("rows in Iceberg wind.readings", result.stored_rows), ("distinct msg_id in Iceberg", result.stored_distinct),
        ("acknowledged but missing", result.missing), ("stored but never sent", result.unexpected),
        ("Postgres 1-minute rows (these turbines)", result.postgres_1m_rows),
        ("Postgres 10-minute rows (these turbines)", result.postgres_10m_rows),
        ("Redis last-known-good turbines", f"{result.redis_lkg_turbines} of {result.turbines}"),
    ):
        t.add_row(label, str(value))
    verdict = ("[green]sent == stored, exactly once; aggregates in Postgres, last-known-good in Redis[/green]" if result.ok
               else "[red]MISMATCH[/red]")
    emit(result.as_dict(), as_json, t)
    if not as_json:
        Console().print(verdict)
    raise typer.Exit(0 if result.ok else 1)


def _bridge_if_needed(stack: StackSettings):  # type: ignore[no-untyped-def]
    """The bridge at the stack's address if one answers there, else one started in this process."""
    from edge_bridge.server import Bridge
    from edge_bridge.settings import BridgeSettings
    from stack.process import port_open

    host, port = stack.bridge_address.rsplit(":", 1)
    if port_open(host, int(port)):
        logging.getLogger("anemos").info("using the edge bridge already serving on %s", stack.bridge_address)
        return None
    return Bridge(BridgeSettings.from_stack(stack)).start()


@app.command("simulate")
def simulate(
    turbines: Annotated[int, typer.Option(min=1, help="turbines in the fleet")] = 1000,
    farms: Annotated[int, typer.Option(min=1, help="wind farms (one edge gateway each), spread over 5 regions")] = 8,
    readings: Annotated[Optional[int], typer.Option(min=1, help="send this many readings, then exit (simulated time ending now)")] = None,
    duration: Annotated[Optional[float], typer.Option(help="continuous mode: run this many seconds (default: until Ctrl-C)")] = None,
    interval: Annotated[float, typer.Option(min=0.01, help="seconds between two readings of one channel")] = 1.0,
    seed: Annotated[int, typer.Option(help="same seed, same fleet, faults and readings")] = 1,
    fault_share: Annotated[float, typer.Option(min=0.0, max=1.0, help="share of turbines given one injected fault")] = 0.05,
    labels_out: Annotated[Optional[Path], typer.Option(help="write the injected fault labels (JSON) here")] = None,
    commands: Annotated[bool, typer.Option("--commands", help="each gateway also executes its commands and acknowledges them to the gate")] = False,
    gate: Annotated[Optional[str], typer.Option(help="command gate host:port")] = None,
    gate_plaintext: Annotated[bool, typer.Option("--gate-plaintext", help="the gate serves plaintext (loopback development)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a simulated fleet: registry in Postgres, one edge agent per farm, mTLS to the bridge."""
    from rich.progress import Progress

    from anemos import platform
    from edge_bridge.simulator import run_fleet
    from stack import manager

    stack = StackSettings()
    manager.up(stack)
    platform.ensure(stack)
    bridge = _bridge_if_needed(stack)
    gate_address = (gate or stack.gate_address) if commands else None
    try:
        with Progress(disable=as_json, transient=True) as progress:
            task = progress.add_task("generating readings", total=readings)
            report = run_fleet(stack, turbines=turbines, farms=farms, seed=seed, readings=readings, duration_s=duration,
                               step_s=interval, fault_share=fault_share, labels_out=labels_out,
                               on_progress=lambda n: progress.advance(task, n), command_gate=gate_address,
                               gate_plaintext=gate_plaintext)
    finally:
        if bridge is not None:
            bridge.stop()
    from dataclasses import asdict

    t = Table("", "count", title=f"fleet of {report.turbines} turbines, {report.gateways} gateways ({report.seconds}s)")
    t.add_row("readings generated", str(report.generated))
    t.add_row("accepted into telemetry.raw", str(report.accepted))
    t.add_row("rejected to telemetry.dlq", str(report.rejected))
    for reason, n in sorted(report.rejected_by_reason.items()):
        t.add_row(f"  {reason}", str(n))
    t.add_row("batches refused for good (quarantined at the edge)", str(report.quarantined_batches))
    t.add_row("faults injected", ", ".join(f"{k} {v}" for k, v in sorted(report.faults.items())) or "none")
    emit(asdict(report), as_json, t)


@app.command("replay")
def replay(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="SCADA export (CSV)")],
    fmt: Annotated[str, typer.Option("--format", help="long (turbine,time,channel,value) or wide (a column per channel)")] = "long",
    site: Annotated[str, typer.Option(help="register the file's turbines under this site and its gateway")] = "REPLAY-01",
    assume_utc: Annotated[bool, typer.Option("--assume-utc", help="read times without an offset as UTC")] = False,
    shift_to_now: Annotated[bool, typer.Option("--shift-to-now", help="move all times so the newest is now (keeps spacing)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Replay a historical SCADA file through an edge agent and the bridge."""
    import time as time_mod

    from anemos import platform
    from edge_bridge import registry
    from edge_bridge.agent import EdgeAgent
    from edge_bridge.certs import channel_credentials, ensure_dev_pki
    from edge_bridge.replay import ReplayReport, read
    from stack import manager

    if fmt not in ("long", "wide"):
        raise typer.BadParameter("--format must be long or wide")
    report = ReplayReport()
    rows = list(read(path, fmt, assume_utc, report))
    if shift_to_now and rows:
        delta = int(time_mod.time() * 1000) - max(r.ts_unix_ms for r in rows)
        for r in rows:
            r.ts_unix_ms += delta
    stack = StackSettings()
    manager.up(stack)
    platform.ensure(stack)
    edge = f"edge-{site.lower()}"
    turbines = sorted({r.turbine_id for r in rows})
    registry.register(stack.postgres_dsn, [registry.Site(site, f"replayed {path.name}", "replay", 0.0, 0.0)],
                      [registry.Turbine(t, site, "AN-3.6-130", 0.0, 0.0, edge) for t in turbines])
    pki = ensure_dev_pki(stack.path("certs"))
    bridge = _bridge_if_needed(stack)
    agent = EdgeAgent(stack.bridge_address, edge, stack.path("agents", f"{edge}.db"),
                      credentials=channel_credentials(pki.ca.cert, pki.edge(edge))).start()
    try:
        agent.submit(rows)
        while not agent.drained():
            time_mod.sleep(0.2)
    finally:
        out = {"file": str(path), "rows": report.rows, "readings": report.readings, "turbines": len(turbines),
               "accepted": agent.metrics.total("forwarded_readings"), "rejected_by_reason": agent.rejected_by_reason,
               "skipped_columns": sorted(report.skipped_columns), "skipped_empty_values": report.skipped_values}
        agent.stop()
        if bridge is not None:
            bridge.stop()
    emit(out, as_json, "\n".join(f"{k}: {v}" for k, v in out.items()))


@app.command("agent")
def agent(
    edge_id: Annotated[str, typer.Option(help="this gateway's id (its certificate's Common Name)")],
    buffer: Annotated[Optional[Path], typer.Option(help="SQLite buffer (default <state>/agents/<edge-id>.db)")] = None,
    target: Annotated[Optional[str], typer.Option(help="bridge host:port")] = None,
    commands: Annotated[bool, typer.Option("--commands", help="also execute this gateway's commands and acknowledge them")] = False,
    commands_topic: Annotated[str, typer.Option(help="topic of accepted commands")] = "commands",
    gate: Annotated[Optional[str], typer.Option(help="command gate host:port (for acknowledgements)")] = None,
    gate_plaintext: Annotated[bool, typer.Option("--gate-plaintext", help="talk to a plaintext gate (loopback development)")] = False,
) -> None:
    """Run an edge agent that forwards its buffer to the bridge until SIGTERM (survives restarts).

    With --commands it also follows its gateway's records on the commands topic, hands each to the
    turbine controller interface (a journal in <state>/agents/<edge-id>.commands.jsonl here) and
    acknowledges execution to the gate."""
    import signal as signal_mod
    import threading

    from edge_bridge.agent import EdgeAgent
    from edge_bridge.certs import channel_credentials, ensure_dev_pki

    stack = StackSettings()
    pki = ensure_dev_pki(stack.path("certs"))
    runner = EdgeAgent(target or stack.bridge_address, edge_id, buffer or stack.path("agents", f"{edge_id}.db"),
                       credentials=channel_credentials(pki.ca.cert, pki.edge(edge_id))).start()
    logging.getLogger("anemos.agent").info("agent %s forwarding %d buffered readings", edge_id, len(runner.buffer))
    listener = None
    if commands:
        import grpc

        from edge_bridge.commands import CommandListener, JournalExecutor

        address = gate or stack.gate_address
        channel = (grpc.insecure_channel(address) if gate_plaintext
                   else grpc.secure_channel(address, channel_credentials(pki.ca.cert, pki.edge(edge_id))))
        listener = CommandListener(stack.kafka_bootstrap, commands_topic, edge_id, channel,
                                   JournalExecutor(stack.path("agents", f"{edge_id}.commands.jsonl")))
        threading.Thread(target=listener.run, name="commands", daemon=True).start()
    done = threading.Event()
    for sig in (signal_mod.SIGTERM, signal_mod.SIGINT):
        signal_mod.signal(sig, lambda *_: done.set())
    done.wait()
    if listener is not None:
        listener.stop()
    runner.stop()


@app.command("test", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Run the whole test suite (every tier; the services are started as needed). Extra args go to pytest."""
    raise typer.Exit(subprocess.call([sys.executable, "-m", "pytest", *ctx.args], cwd=PROJECT_ROOT))


cli_ops.register(app)
app.add_typer(cli_cluster.cluster_app, name="cluster")
app.command("chaos")(cli_cluster.chaos)
app.command("repair-kafka")(cli_cluster.repair_kafka)
app.command("restate")(cli_cluster.restate_windows)


def main() -> None:
    """Entry point: usage errors and failures print one line and exit non-zero."""
    try:
        # without standalone mode, Typer returns a command's exit code instead of raising it
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as err:  # usage errors: bad command, option or value
        if type(err).__name__ == "NoArgsIsHelpError":
            sys.exit(0)
        print(f"anemos: error: {err.format_message()}", file=sys.stderr)
        sys.exit(2)
    except Exception as err:  # noqa: BLE001 - the top of the CLI: one line, non-zero
        logging.getLogger("anemos").debug("failure", exc_info=True)
        print(f"anemos: error: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(1)
