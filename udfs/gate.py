"""The command gate's decision, pure: what is known about the target in, a verdict with its reason out.

The order of the checks is the order of their weight: a protected asset is never touched
whatever else holds; a freeze refuses STOP and CURTAIL; stale last-known-good state refuses
any command (we do not act on a turbine we cannot see); and only then is a high-impact command
held for a second person. When the gate cannot read the freezes, it is frozen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

from udfs.freeze import Freeze, scopes_covering


class Command(str, Enum):
    STOP = "STOP"
    CURTAIL = "CURTAIL"
    START = "START"
    RESET = "RESET"


#: commands a freeze refuses: the ones that take generation away on what may be stale evidence
FREEZE_BOUND = frozenset({Command.STOP, Command.CURTAIL})


class Outcome(str, Enum):
    ACCEPTED = "ACCEPTED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    REFUSED = "REFUSED"


# refusal codes, each mapped to one gRPC status by the service
INVALID = "INVALID"
UNKNOWN_TARGET = "UNKNOWN_TARGET"
PROTECTED = "PROTECTED"
FROZEN = "FROZEN"
STALE_STATE = "STALE_STATE"
SAME_APPROVER = "SAME_APPROVER"
EXPIRED = "EXPIRED"
NOT_PENDING = "NOT_PENDING"


@dataclass(frozen=True)
class Policy:
    max_lkg_age_ms: int = 30_000
    high_impact_curtail_share: float = 0.5  # curtailing away more than this share of rated power needs a second person
    approval_ttl_ms: int = 15 * 60_000


@dataclass(frozen=True)
class Request:
    command: Command
    requested_by: str
    reason: str
    turbine_id: str | None = None
    site_id: str | None = None
    setpoint: float | None = None  # CURTAIL: allowed power as a share of rated, 0..1

    @property
    def target(self) -> str:
        return f"turbine:{self.turbine_id}" if self.turbine_id else f"site:{self.site_id}"


@dataclass(frozen=True)
class TurbineFacts:
    turbine_id: str
    site_id: str
    edge_id: str
    protected: bool
    lkg_age_ms: int | None  # None: no last-known-good state at all


@dataclass(frozen=True)
class Context:
    """What the gate knows now. ``freezes`` is None when it could not be read."""

    now_ms: int
    turbines: Sequence[TurbineFacts]  # the target's turbines, from the registry
    freezes: Mapping[str, Freeze] | None


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    code: str  # "" when accepted or pending
    reason: str
    turbines: tuple[str, ...] = ()  # the turbines the command goes to
    excluded: tuple[str, ...] = ()  # protected turbines left out of a site command

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


def _refuse(code: str, reason: str) -> Verdict:
    return Verdict(Outcome.REFUSED, code, reason)


def _validate(req: Request) -> str | None:
    if (req.turbine_id is None) == (req.site_id is None):
        return "name exactly one target: a turbine or a site"
    if not req.requested_by.strip():
        return "requested_by is required"
    if not req.reason.strip():
        return "a reason is required"
    if req.command is Command.CURTAIL:
        if req.setpoint is None or not 0.0 <= req.setpoint < 1.0:
            return "CURTAIL needs a setpoint: the allowed power as a share of rated, at least 0 and below 1"
    elif req.setpoint is not None:
        return f"{req.command.value} takes no setpoint"
    return None


def high_impact(req: Request, policy: Policy) -> bool:
    """A whole site, or a curtailment deeper than the policy's share."""
    if req.site_id is not None:
        return True
    return req.command is Command.CURTAIL and req.setpoint is not None and 1.0 - req.setpoint > policy.high_impact_curtail_share


def _covering_freeze(facts: Sequence[TurbineFacts], freezes: Mapping[str, Freeze]) -> Freeze | None:
    for t in facts:
        for scope in scopes_covering(t.turbine_id, t.site_id):
            if scope in freezes:
                return freezes[scope]
    return None


def check(req: Request, ctx: Context, policy: Policy) -> Verdict:
    """Every safety check, in order of weight; ACCEPTED if all pass (the approval step is separate)."""
    problem = _validate(req)
    if problem is not None:
        return _refuse(INVALID, problem)
    if not ctx.turbines:
        return _refuse(UNKNOWN_TARGET, f"{req.target} is not in the turbine registry")
    protected = tuple(sorted(t.turbine_id for t in ctx.turbines if t.protected))
    targets = [t for t in ctx.turbines if not t.protected]
    if req.turbine_id is not None and protected:
        return _refuse(PROTECTED, f"turbine {req.turbine_id} is a protected asset: no command may touch it")
    if not targets:
        return _refuse(PROTECTED, f"every turbine of site {req.site_id} is a protected asset")
    if req.command in FREEZE_BOUND:
        if ctx.freezes is None:
            return _refuse(FROZEN, "the freeze state cannot be read: failing safe, as if frozen")
        freeze = _covering_freeze(targets, ctx.freezes)
        if freeze is not None:
            since = datetime.fromtimestamp(freeze.since_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            return _refuse(FROZEN, f"freeze {freeze.scope} ({freeze.reason} since {since}): {freeze.detail}")
    stale = sorted(t.turbine_id for t in targets if t.lkg_age_ms is None or t.lkg_age_ms > policy.max_lkg_age_ms)
    if stale:
        ages = {t.turbine_id: t.lkg_age_ms for t in targets}
        shown = ", ".join(f"{s} ({'never seen' if ages[s] is None else f'{ages[s] / 1000:.0f}s old'})" for s in stale[:5])
        more = f" and {len(stale) - 5} more" if len(stale) > 5 else ""
        return _refuse(STALE_STATE, f"last-known-good state older than {policy.max_lkg_age_ms / 1000:.0f}s: {shown}{more}")
    return Verdict(Outcome.ACCEPTED, "", "every safety check passed", tuple(sorted(t.turbine_id for t in targets)), protected)


def decide(req: Request, ctx: Context, policy: Policy) -> Verdict:
    """A new request: refused, held for a second person, or accepted."""
    verdict = check(req, ctx, policy)
    if verdict.accepted and high_impact(req, policy):
        return Verdict(Outcome.PENDING_APPROVAL, "", "high impact: waiting for a second, different person to approve",
                       verdict.turbines, verdict.excluded)
    return verdict


def approve(req: Request, approver: str, requested_at_ms: int, ctx: Context, policy: Policy) -> Verdict:
    """A second person approves a pending request; the safety checks run again, as of now."""
    if not approver.strip():
        return _refuse(INVALID, "approved_by is required")
    if approver.strip().casefold() == req.requested_by.strip().casefold():
        return _refuse(SAME_APPROVER, f"{approver} requested this command and cannot also approve it")
    if ctx.now_ms > requested_at_ms + policy.approval_ttl_ms:
        return _refuse(EXPIRED, f"the approval window of {policy.approval_ttl_ms // 60_000} min has passed; request it again")
    return check(req, ctx, policy)
