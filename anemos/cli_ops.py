"""CLI for the people downstream of the pipeline: alert subscribers, the safety freeze and the command gate."""

from __future__ import annotations

import signal
import threading
import time
from typing import Annotated, Optional

import grpc
import typer
from rich.table import Table

from anemos.output import JsonOpt, emit
from stack.settings import StackSettings

alerts_app = typer.Typer(help="Follow alerts, deliver them to webhooks, acknowledge them.", no_args_is_help=True)
freeze_app = typer.Typer(help="The safety freeze: its monitor and what is frozen now.", no_args_is_help=True)
gate_app = typer.Typer(help="The command gate (gRPC ControlService).", no_args_is_help=True)
command_app = typer.Typer(help="Ask the gate for a turbine command, approve one, read the audit trail.", no_args_is_help=True)

Many = Annotated[Optional[list[str]], typer.Option()]


def _until_signal() -> threading.Event:
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    return done


# -- alerts -------------------------------------------------------------------------------
@alerts_app.command("watch")
def alerts_watch(
    site: Many = None, turbine: Many = None, severity: Many = None, rule: Many = None, status: Many = None,
    start: Annotated[str, typer.Option("--from", help="latest, earliest, or an ISO-8601 time to replay from")] = "latest",
    topic: Annotated[str, typer.Option(help="alerts topic")] = "alerts",
    idle_timeout: Annotated[Optional[float], typer.Option(help="exit after this many seconds without an alert")] = None,
    limit: Annotated[Optional[int], typer.Option(help="exit after this many alerts")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Follow committed alerts, filtered (repeat a filter for several values); one line or one JSON object each."""
    import json

    from alerting.watch import Filters, follow

    filters = Filters(*(frozenset(v or ()) for v in (site, turbine, severity, rule, status)))
    for alert in follow(StackSettings().kafka_bootstrap, topic, filters, start, idle_timeout, limit):
        print(json.dumps(alert.payload()) if as_json else alert.line(), flush=True)


@alerts_app.command("notify")
def alerts_notify(
    webhook: Annotated[Optional[list[str]], typer.Option(help="endpoint to POST each alert to (repeatable)")] = None,
    topic: Annotated[Optional[str], typer.Option(help="alerts topic")] = None,
    max_attempts: Annotated[Optional[int], typer.Option(help="attempts per endpoint before the dead letter")] = None,
) -> None:
    """Run the notifier until SIGTERM: lifecycle rows in Postgres, every alert to every webhook (at least once)."""
    from alerting.notifier import Notifier
    from alerting.settings import AlertSettings

    settings = AlertSettings.from_stack(StackSettings(), webhooks=tuple(webhook) if webhook else None, alerts_topic=topic,
                                        max_attempts=max_attempts)
    notifier = Notifier(settings)
    try:
        notifier.run(_until_signal())
    finally:
        notifier.close()


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[str, typer.Argument(help="the alert_id of the RAISED transition")],
    by: Annotated[str, typer.Option("--by", help="who takes it")],
    note: Annotated[str, typer.Option(help="a note for the record")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Acknowledge a raised alert (the first acknowledgement stands)."""
    import psycopg

    from alerting.lifecycle import acknowledge

    with psycopg.connect(StackSettings().postgres_dsn, autocommit=True) as conn:
        out = acknowledge(conn, alert_id, by, note)
    emit(out, as_json, f"{alert_id} acknowledged by {out['acknowledged_by']} at {out['acknowledged_at']}")


@alerts_app.command("list")
def alerts_list(
    open_only: Annotated[bool, typer.Option("--open", help="only episodes not cleared yet")] = False,
    limit: Annotated[int, typer.Option(help="newest N episodes")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Alert episodes from Postgres: raised, acknowledged, cleared."""
    import psycopg

    from alerting.lifecycle import episodes

    with psycopg.connect(StackSettings().postgres_dsn) as conn:
        rows = episodes(conn, open_only, limit)
    table = Table("raised", "site/turbine", "sensor", "rule", "severity", "acknowledged", "cleared", "alert_id")
    for r in rows:
        table.add_row(f"{r['raised_at']:%Y-%m-%d %H:%M:%S}", f"{r['site_id']}/{r['turbine_id']}", r["sensor_id"], r["rule"],
                      r["severity"], r["acknowledged_by"] or "-", f"{r['cleared_at']:%H:%M:%S}" if r["cleared_at"] else "open",
                      r["raised_alert_id"])
    emit(rows, as_json, table)


# -- freeze and last-known-good ---------------------------------------------------------------
def _safety(**overrides: object):  # type: ignore[no-untyped-def]
    from safety.settings import SafetySettings

    return SafetySettings.from_stack(StackSettings(), **overrides)


@freeze_app.command("monitor")
def freeze_monitor(
    once: Annotated[bool, typer.Option("--once", help="one look: print what it sees and would decide, change nothing")] = False,
    redis_prefix: Annotated[Optional[str], typer.Option(help="the stream job's Redis prefix")] = None,
    consumer_group: Annotated[Optional[str], typer.Option(help="the stream job's consumer group")] = None,
    interval_s: Annotated[Optional[float], typer.Option(help="seconds between looks")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Watch lag and telemetry loss; freeze and thaw scopes in Redis (record them in Postgres and on Kafka)."""
    from dataclasses import asdict

    from safety.monitor import FreezeMonitor

    monitor = FreezeMonitor(_safety(plaintext=True, redis_prefix=redis_prefix, job_consumer_group=consumer_group,
                                    interval_s=interval_s))
    try:
        if once:
            obs, judged, events = monitor.judge()
            gap = None if obs.progress_ms is None else (obs.now_ms - obs.progress_ms) / 1000
            out = {"lag_records": obs.lag_records, "event_time_gap_s": gap, "turbines_seen": len(obs.turbine_last_ms),
                   "frozen_after_this_look": sorted(judged.active), "would_change": [{"kind": e.kind, **asdict(e.freeze)} for e in events]}
            emit(out, as_json, f"lag {obs.lag_records} records; event time {gap}s behind; {len(obs.turbine_last_ms)} turbines seen; "
                               f"frozen after this look: {_summary(judged.active)}; would change {len(events)} scopes")
        else:
            monitor.run(_until_signal())
    finally:
        monitor.close()


def _summary(scopes: object) -> str:
    """'all, 2 sites, 14 turbines' rather than a list of hundreds."""
    names = list(scopes)  # type: ignore[call-overload]
    sites = sum(1 for s in names if s.startswith("site:"))
    turbines = sum(1 for s in names if s.startswith("turbine:"))
    parts = (["all"] if "all" in names else []) + ([f"{sites} sites"] if sites else []) + ([f"{turbines} turbines"] if turbines else [])
    return ", ".join(parts) or "nothing"


@freeze_app.command("status")
def freeze_status(
    redis_prefix: Annotated[Optional[str], typer.Option(help="the stream job's Redis prefix")] = None,
    limit: Annotated[int, typer.Option(help="rows to show (all, sites first); --json always has every freeze")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """What is frozen now, why and since when; and whether the monitor is alive (if not, the gate is frozen)."""
    from dataclasses import asdict

    from safety.state import SafetyState

    settings = _safety(plaintext=True, redis_prefix=redis_prefix)
    state = SafetyState(settings.redis_url, settings.redis_prefix)
    freezes, alive = state.freezes(), state.monitor_alive()
    now = int(time.time() * 1000)
    out = {"monitor_alive": alive, "freezes": [{**asdict(f), "age_s": (now - f.since_ms) / 1000} for f in freezes.values()]}
    title = (f"frozen: {_summary(freezes)}" if alive else "MONITOR NOT RUNNING: the gate refuses STOP and CURTAIL everywhere")
    table = Table("scope", "reason", "for", "detail", title=title)
    rank = {"all": 0, "site": 1, "turbine": 2}
    for f in sorted(freezes.values(), key=lambda f: (rank[f.scope.split(":")[0]], f.scope))[:limit]:
        table.add_row(f.scope, f.reason, f"{(now - f.since_ms) / 1000:.0f}s", f.detail)
    if len(freezes) > limit:
        table.caption = f"{len(freezes) - limit} more (--limit, or --json for all)"
    emit(out, as_json, table if freezes or not alive else "nothing is frozen; monitor alive")


def lkg(
    turbine_id: Annotated[str, typer.Argument(help="turbine id")],
    redis_prefix: Annotated[Optional[str], typer.Option(help="the stream job's Redis prefix")] = None,
    as_json: JsonOpt = False,
) -> None:
    """A turbine's last-known-good state: latest good value per channel, its event time and age."""
    from safety.state import SafetyState

    settings = _safety(plaintext=True, redis_prefix=redis_prefix)
    found = SafetyState(settings.redis_url, settings.redis_prefix).lkg(turbine_id)
    if found is None:
        raise LookupError(f"no last-known-good state for {turbine_id!r} (has the stream job seen it?)")
    now = int(time.time() * 1000)
    out = {"turbine_id": turbine_id, "site_id": found.site_id, "last_event_ms": found.last_event_ms,
           "age_s": found.age_ms(now) / 1000, "channels": {c: {"value": v, "event_ms": t, "age_s": (now - t) / 1000}
                                                       for c, (v, t) in sorted(found.channels.items())}}
    table = Table("channel", "value", "age", title=f"{turbine_id} ({found.site_id}): newest {found.age_ms(now) / 1000:.1f}s ago")
    for c, d in out["channels"].items():  # type: ignore[union-attr]
        table.add_row(c, f"{d['value']:.3f}", f"{d['age_s']:.1f}s")
    emit(out, as_json, table)


# -- the gate ---------------------------------------------------------------------------------
@gate_app.command("serve")
def gate_serve(
    listen: Annotated[Optional[str], typer.Option(help="host:port to serve gRPC on")] = None,
    plaintext: Annotated[bool, typer.Option("--plaintext", help="no TLS, names taken on trust: loopback development only")] = False,
    redis_prefix: Annotated[Optional[str], typer.Option(help="the stream job's Redis prefix")] = None,
) -> None:
    """Serve ControlService until SIGTERM."""
    from safety.gate import GateServer

    server = GateServer(_safety(listen=listen, plaintext=plaintext or None, redis_prefix=redis_prefix)).start()
    _until_signal().wait()
    server.stop()


def gate_channel(target: Optional[str], identity: Optional[str]) -> grpc.Channel:
    """A channel to the gate: mTLS as ``identity`` (a certificate from `anemos certs edge NAME`), else plaintext."""
    stack = StackSettings()
    address = target or stack.gate_address
    if identity is None:
        return grpc.insecure_channel(address)
    from edge_bridge.certs import channel_credentials, ensure_dev_pki

    pki = ensure_dev_pki(stack.path("certs"))
    return grpc.secure_channel(address, channel_credentials(pki.ca.cert, pki.edge(identity)))


def _gate_stub(target: Optional[str], identity: Optional[str]):  # type: ignore[no-untyped-def]
    from edge_bridge.proto import control_pb2_grpc

    return control_pb2_grpc.ControlServiceStub(gate_channel(target, identity))


Target = Annotated[Optional[str], typer.Option("--gate", help="gate host:port")]
Tls = Annotated[bool, typer.Option("--tls/--plaintext", help="mTLS with your certificate (anemos certs edge NAME)")]


def _decision(call, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    try:
        decision = call()
    except grpc.RpcError as err:
        meta = dict(err.trailing_metadata() or ())
        out = {"outcome": "REFUSED", "status": err.code().name, "reason": err.details(), "command_id": meta.get("anemos-command-id")}
        emit(out, as_json, f"REFUSED ({err.code().name}): {err.details()}  [command {out['command_id']}]")
        raise typer.Exit(3) from None
    out = {"command_id": decision.command_id, "outcome": decision.outcome, "reason": decision.reason,
           "turbines": list(decision.turbines), "excluded": list(decision.excluded)}
    human = f"{decision.outcome}: {decision.reason}  [command {decision.command_id}; turbines {', '.join(decision.turbines)}]"
    emit(out, as_json, human)


@command_app.command("request")
def command_request(
    command: Annotated[str, typer.Argument(help="STOP, CURTAIL, START or RESET")],
    by: Annotated[str, typer.Option("--by", help="who asks (your certificate name with --tls)")],
    reason: Annotated[str, typer.Option(help="why")],
    turbine: Annotated[Optional[str], typer.Option(help="target turbine")] = None,
    site: Annotated[Optional[str], typer.Option(help="target site (high impact: needs a second person)")] = None,
    setpoint: Annotated[Optional[float], typer.Option(help="CURTAIL: allowed power as a share of rated, 0..1")] = None,
    gate: Target = None, tls: Tls = False, as_json: JsonOpt = False,
) -> None:
    """Ask the gate for a command. Exit 0 when accepted or pending, 3 when refused (the reason is printed)."""
    from edge_bridge.proto import control_pb2 as pb

    if command.upper() not in ("STOP", "CURTAIL", "START", "RESET"):
        raise typer.BadParameter(f"{command!r} is not STOP, CURTAIL, START or RESET")
    msg = pb.CommandRequest(command=pb.CommandType.Value(command.upper()), requested_by=by, reason=reason,
                            turbine_id=turbine, site_id=site, setpoint=setpoint)
    stub = _gate_stub(gate, by if tls else None)
    _decision(lambda: stub.RequestCommand(msg, timeout=30), as_json)


@command_app.command("approve")
def command_approve(
    command_id: Annotated[str, typer.Argument(help="the pending command's id")],
    by: Annotated[str, typer.Option("--by", help="who approves: not the requester")],
    gate: Target = None, tls: Tls = False, as_json: JsonOpt = False,
) -> None:
    """Approve a pending high-impact command as a second person."""
    from edge_bridge.proto import control_pb2 as pb

    stub = _gate_stub(gate, by if tls else None)
    _decision(lambda: stub.ApproveCommand(pb.ApproveRequest(command_id=command_id, approved_by=by), timeout=30), as_json)


@command_app.command("audit")
def command_audit(
    command_id: Annotated[Optional[str], typer.Argument(help="one command (default: the latest entries)")] = None,
    limit: Annotated[int, typer.Option(help="entries")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The audit trail: every request, decision, approval and execution report."""
    from safety.book import CommandBook

    trail = CommandBook(StackSettings().postgres_dsn).trail(command_id, limit)
    table = Table("time (UTC)", *(() if command_id else ("command",)), "event", "actor", "detail")
    for e in trail:
        d = e["detail"]
        what = " ".join(str(x) for x in (d.get("command"), d.get("target") or d.get("turbine_id")) if x)
        why = d.get("decision") or d.get("reason") or d.get("detail") or ""
        table.add_row(e["at"][11:19], *(() if command_id else (e["command_id"],)), e["event"], e["actor"], f"{what}: {why}")
    emit(trail, as_json, table)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(freeze_app, name="freeze")
    app.add_typer(gate_app, name="gate")
    app.add_typer(command_app, name="command")
    app.command("lkg")(lkg)

