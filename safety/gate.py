"""The command gate: gRPC ControlService over ``udfs.gate``, with the book, the freezes and the commands topic.

Every request and decision is written to the audit trail before the caller hears the answer.
Refusals are gRPC errors with a precise status; their details start with the refusal code.
On an mTLS channel, requested_by, approved_by and edge_id must be the caller's certificate name.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent import futures

import grpc
import redis

from edge_bridge.proto import control_pb2 as pb
from edge_bridge.proto import control_pb2_grpc as pb_grpc
from edge_bridge.service import peer_identity
from safety.book import CommandBook
from safety.commands import CommandPublisher, PublishError
from safety.settings import SafetySettings
from safety.state import SafetyState
from udfs import gate
from udfs.gate import Command, Context, Outcome, Request, TurbineFacts, Verdict

log = logging.getLogger("anemos.safety.gate")

IDENTITY = "IDENTITY"
PUBLISH_FAILED = "PUBLISH_FAILED"
STATUS = {
    gate.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    gate.UNKNOWN_TARGET: grpc.StatusCode.NOT_FOUND,
    gate.PROTECTED: grpc.StatusCode.PERMISSION_DENIED,
    gate.FROZEN: grpc.StatusCode.FAILED_PRECONDITION,
    gate.STALE_STATE: grpc.StatusCode.FAILED_PRECONDITION,
    gate.SAME_APPROVER: grpc.StatusCode.PERMISSION_DENIED,
    gate.EXPIRED: grpc.StatusCode.FAILED_PRECONDITION,
    gate.NOT_PENDING: grpc.StatusCode.FAILED_PRECONDITION,
    IDENTITY: grpc.StatusCode.PERMISSION_DENIED,
    PUBLISH_FAILED: grpc.StatusCode.UNAVAILABLE,
}


def _request(msg: pb.CommandRequest) -> Request:
    target = msg.WhichOneof("target")
    command = Command[pb.CommandType.Name(msg.command)] if msg.command != pb.COMMAND_UNSPECIFIED else None
    return Request(
        command or Command.STOP, msg.requested_by, msg.reason,
        turbine_id=msg.turbine_id if target == "turbine_id" else None,
        site_id=msg.site_id if target == "site_id" else None,
        setpoint=msg.setpoint if msg.HasField("setpoint") else None,
    )


class ControlGate(pb_grpc.ControlServiceServicer):
    def __init__(self, settings: SafetySettings, book: CommandBook, state: SafetyState, publisher: CommandPublisher) -> None:
        self.settings, self.policy = settings, settings.policy()
        self.book, self.state, self.publisher = book, state, publisher

    def _context(self, req: Request) -> tuple[Context, list]:  # type: ignore[type-arg]
        assets = self.book.assets(req)
        now = int(time.time() * 1000)
        try:
            lkg = self.state.lkg_many(a.turbine_id for a in assets)
        except redis.RedisError as err:
            log.warning("cannot read last-known-good (%s): every target counts as stale", err)
            lkg = {}
        try:
            freezes = self.state.freezes() if self.state.monitor_alive() else None
        except redis.RedisError as err:
            log.warning("cannot read freezes (%s): failing safe", err)
            freezes = None
        facts = [TurbineFacts(a.turbine_id, a.site_id, a.edge_id, a.protected,
                              lkg[a.turbine_id].age_ms(now) if a.turbine_id in lkg else None) for a in assets]
        return Context(now, facts, freezes), assets

    def _refuse(self, context: grpc.ServicerContext, command_id: str, code: str, reason: str) -> None:
        log.info("command %s refused: %s %s", command_id, code, reason)
        context.set_trailing_metadata((("anemos-command-id", command_id), ("anemos-refusal-code", code)))
        context.abort(STATUS[code], f"{code}: {reason}")

    def _identity(self, context: grpc.ServicerContext, claimed: str) -> str | None:
        """A problem when the certificate names someone other than the claimed person."""
        cn = peer_identity(context)
        if cn is not None and cn != claimed.strip():
            return f"the certificate says {cn!r}, the request says {claimed!r}"
        return None

    def _publish(self, command_id: str, req: Request, verdict: Verdict, assets: list, approved_by: str | None) -> Verdict:  # type: ignore[type-arg]
        chosen = [a for a in assets if a.turbine_id in verdict.turbines]
        try:
            self.publisher.publish(command_id, req, chosen, approved_by)
        except (PublishError, BufferError) as err:
            return Verdict(Outcome.REFUSED, PUBLISH_FAILED, f"not sent: {err}")
        return verdict

    def _decision(self, command_id: str, verdict: Verdict, requested_at_ms: int) -> pb.Decision:
        expires = requested_at_ms + self.policy.approval_ttl_ms if verdict.outcome is Outcome.PENDING_APPROVAL else 0
        return pb.Decision(command_id=command_id, outcome=verdict.outcome.value, reason=verdict.reason,
                           turbines=verdict.turbines, excluded=verdict.excluded, approval_expires_at_ms=expires)

    def _sweep(self) -> None:
        """Pending commands past their window become EXPIRED (checked on every request and approval)."""
        for command_id in self.book.expire_pending(int(time.time() * 1000), self.policy.approval_ttl_ms):
            log.info("command %s expired without a second approval", command_id)

    def RequestCommand(self, request: pb.CommandRequest, context: grpc.ServicerContext) -> pb.Decision:  # noqa: N802
        self._sweep()
        command_id = f"cmd-{uuid.uuid4().hex[:16]}"
        req = _request(request)
        if request.command == pb.COMMAND_UNSPECIFIED:
            return self._refuse(context, command_id, gate.INVALID, "command is required: STOP, CURTAIL, START or RESET")  # type: ignore[func-returns-value]
        problem = self._identity(context, request.requested_by)
        ctx, assets = self._context(req)
        verdict = gate.decide(req, ctx, self.policy) if problem is None else Verdict(Outcome.REFUSED, IDENTITY, problem)
        if verdict.accepted:
            verdict = self._publish(command_id, req, verdict, assets, None)
        self.book.record(command_id, req, verdict, verdict.outcome.value, ctx.now_ms)
        if verdict.outcome is Outcome.REFUSED:
            self._refuse(context, command_id, verdict.code, verdict.reason)
        log.info("command %s %s: %s %s by %s", command_id, verdict.outcome.value, req.command.value, req.target, req.requested_by)
        return self._decision(command_id, verdict, ctx.now_ms)

    def ApproveCommand(self, request: pb.ApproveRequest, context: grpc.ServicerContext) -> pb.Decision:  # noqa: N802
        booked = self.book.load(request.command_id)
        if booked is not None and booked.status == Outcome.PENDING_APPROVAL.value:
            self._sweep()
            booked = self.book.load(request.command_id)
        if booked is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no command {request.command_id!r}")
        assert booked is not None
        if booked.status != Outcome.PENDING_APPROVAL.value:
            return self._refuse(context, booked.command_id, gate.NOT_PENDING, f"the command is {booked.status}, not waiting for approval")  # type: ignore[func-returns-value]
        problem = self._identity(context, request.approved_by)
        ctx, assets = self._context(booked.request)
        verdict = (gate.approve(booked.request, request.approved_by, booked.requested_at_ms, ctx, self.policy)
                   if problem is None else Verdict(Outcome.REFUSED, IDENTITY, problem))
        if verdict.accepted:
            verdict = self._publish(booked.command_id, booked.request, verdict, assets, request.approved_by)
        if verdict.code in (gate.SAME_APPROVER, gate.INVALID, IDENTITY):
            # the approver is wrong, not the command: it stays pending for the right person
            self.book.audit(booked.command_id, "APPROVAL_REFUSED", request.approved_by or "?", {"code": verdict.code, "reason": verdict.reason})
        else:
            status = "EXPIRED" if verdict.code == gate.EXPIRED else verdict.outcome.value
            self.book.record(booked.command_id, booked.request, verdict, status, ctx.now_ms, approved_by=request.approved_by)
        if verdict.outcome is Outcome.REFUSED:
            self._refuse(context, booked.command_id, verdict.code, verdict.reason)
        log.info("command %s approved by %s and sent to %d turbines", booked.command_id, request.approved_by, len(verdict.turbines))
        return self._decision(booked.command_id, verdict, booked.requested_at_ms)

    def AckCommand(self, request: pb.CommandAck, context: grpc.ServicerContext) -> pb.AckReply:  # noqa: N802
        booked = self.book.load(request.command_id)
        if booked is None or request.turbine_id not in booked.turbines:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no command {request.command_id!r} for turbine {request.turbine_id!r}")
        assert booked is not None
        problem = self._identity(context, request.edge_id)
        if problem is not None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{IDENTITY}: {problem}")
        event = "EXECUTED" if request.executed else "EXECUTION_FAILED"
        self.book.audit(booked.command_id, event, request.edge_id, {"turbine_id": request.turbine_id, "detail": request.detail})
        done = self.book.executed_turbines(booked.command_id)
        status = booked.status
        if request.executed and set(booked.turbines) <= done and booked.status == Outcome.ACCEPTED.value:
            self.book.set_status(booked.command_id, "EXECUTED")
            status = "EXECUTED"
        return pb.AckReply(command_id=booked.command_id, status=status)


class GateServer:
    def __init__(self, settings: SafetySettings) -> None:
        self.settings = settings
        self.publisher = CommandPublisher(settings.bootstrap_servers, settings.commands_topic)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="gate"))
        service = ControlGate(settings, CommandBook(settings.postgres_dsn), SafetyState(settings.redis_url, settings.redis_prefix),
                              self.publisher)
        pb_grpc.add_ControlServiceServicer_to_server(service, self.server)
        if settings.plaintext:
            self.port = self.server.add_insecure_port(settings.listen)
        else:
            if not (settings.tls_cert and settings.tls_key and settings.tls_client_ca):
                raise ValueError("mTLS needs tls_cert, tls_key and tls_client_ca (or set plaintext for local use)")
            creds = grpc.ssl_server_credentials([(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())],
                                                root_certificates=settings.tls_client_ca.read_bytes(), require_client_auth=True)
            self.port = self.server.add_secure_port(settings.listen, creds)

    def start(self) -> "GateServer":
        self.server.start()
        mode = "plaintext, loopback development mode" if self.settings.plaintext else "mTLS, caller names from certificates"
        log.info("command gate listening on %s (port %d, %s)", self.settings.listen, self.port, mode)
        return self

    def stop(self, grace_s: float = 10.0) -> None:
        self.server.stop(grace_s).wait()
        self.publisher.close()
