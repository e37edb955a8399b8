"""The command gate's promises, over random histories of freezes, thaws, protected flags, approvals and requests."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udfs import gate
from udfs.freeze import ALL, Freeze, scopes_covering, site_scope, turbine_scope
from udfs.gate import Command, Context, Outcome, Policy, Request, TurbineFacts

pytestmark = pytest.mark.unit

SITES = {"T1": "S1", "T2": "S1", "T3": "S2"}
PEOPLE = ["alice", "bob", "Alice ", "carol"]
SCOPES = [ALL, site_scope("S1"), site_scope("S2"), *(turbine_scope(t) for t in SITES)]
POLICY = Policy(max_lkg_age_ms=30_000, high_impact_curtail_share=0.5, approval_ttl_ms=60_000)


@dataclass
class World:
    now_ms: int = 1_000_000
    freezes: dict[str, Freeze] = field(default_factory=dict)
    freezes_readable: bool = True
    protected: set[str] = field(default_factory=set)
    lkg_age_ms: dict[str, int | None] = field(default_factory=lambda: {t: 1_000 for t in SITES})
    pending: list[tuple[Request, int]] = field(default_factory=list)

    def context(self, req: Request) -> Context:
        ids = [req.turbine_id] if req.turbine_id else [t for t, s in SITES.items() if s == req.site_id]
        facts = [TurbineFacts(t, SITES[t], "edge-1", t in self.protected, self.lkg_age_ms[t]) for t in ids if t in SITES]
        return Context(self.now_ms, facts, dict(self.freezes) if self.freezes_readable else None)


requests = st.builds(
    Request,
    command=st.sampled_from(list(Command)),
    requested_by=st.sampled_from(PEOPLE),
    reason=st.just("maintenance"),
    turbine_id=st.one_of(st.none(), st.sampled_from([*SITES, "T9"])),
    site_id=st.sampled_from(["S1", "S2"]),
    setpoint=st.one_of(st.none(), st.floats(0.0, 0.99)),
).map(lambda r: Request(r.command, r.requested_by, r.reason, r.turbine_id, None if r.turbine_id else r.site_id,
                        r.setpoint if r.command is Command.CURTAIL else None))

operations = st.lists(st.one_of(
    st.tuples(st.just("freeze"), st.sampled_from(SCOPES)),
    st.tuples(st.just("thaw"), st.sampled_from(SCOPES)),
    st.tuples(st.just("blind"), st.booleans()),
    st.tuples(st.just("protect"), st.sampled_from(list(SITES))),
    st.tuples(st.just("unprotect"), st.sampled_from(list(SITES))),
    st.tuples(st.just("age"), st.tuples(st.sampled_from(list(SITES)), st.one_of(st.none(), st.integers(0, 90_000)))),
    st.tuples(st.just("tick"), st.integers(0, 40_000)),
    st.tuples(st.just("request"), requests),
    st.tuples(st.just("approve"), st.tuples(st.integers(0, 20), st.sampled_from(PEOPLE))),
), max_size=60)


def _assert_safe(world: World, req: Request, verdict: gate.Verdict, approver: str | None) -> None:
    """What every ACCEPTED verdict must satisfy, judged against the world as it is at that moment."""
    assert verdict.turbines, "an accepted command goes somewhere"
    for t in verdict.turbines:
        assert t not in world.protected, f"accepted {req.command} on protected {t}"
        age = world.lkg_age_ms[t]
        assert age is not None and age <= POLICY.max_lkg_age_ms, "accepted on stale state"
        if req.command in gate.FREEZE_BOUND:
            assert world.freezes_readable, "accepted STOP/CURTAIL while the freezes were unreadable"
            assert not any(s in world.freezes for s in scopes_covering(t, SITES[t])), f"accepted {req.command} on frozen {t}"
    if gate.high_impact(req, POLICY):
        assert approver is not None, "a high-impact command was accepted without approval"
        assert approver.strip().casefold() != req.requested_by.strip().casefold(), "approved by the requester"


@settings(max_examples=400, deadline=None)
@given(operations)
def test_nothing_unsafe_is_ever_accepted(ops: list[tuple[str, object]]) -> None:
    world = World()
    for op, arg in ops:
        if op == "freeze":
            world.freezes[arg] = Freeze(arg, "PROCESSING_LAG", world.now_ms, "test")  # type: ignore[index]
        elif op == "thaw":
            world.freezes.pop(arg, None)  # type: ignore[arg-type]
        elif op == "blind":
            world.freezes_readable = bool(arg)
        elif op == "protect":
            world.protected.add(arg)  # type: ignore[arg-type]
        elif op == "unprotect":
            world.protected.discard(arg)  # type: ignore[arg-type]
        elif op == "age":
            turbine, age = arg  # type: ignore[misc]
            world.lkg_age_ms[turbine] = age
        elif op == "tick":
            world.now_ms += arg  # type: ignore[operator]
        elif op == "request":
            req: Request = arg  # type: ignore[assignment]
            verdict = gate.decide(req, world.context(req), POLICY)
            if verdict.outcome is Outcome.PENDING_APPROVAL:
                assert gate.high_impact(req, POLICY)
                world.pending.append((req, world.now_ms))
            elif verdict.accepted:
                _assert_safe(world, req, verdict, approver=None)
        elif op == "approve" and world.pending:
            index, approver = arg  # type: ignore[misc]
            req, at = world.pending[index % len(world.pending)]
            verdict = gate.approve(req, approver, at, world.context(req), POLICY)
            if verdict.accepted:
                world.pending.remove((req, at))
                _assert_safe(world, req, verdict, approver)
                assert world.now_ms <= at + POLICY.approval_ttl_ms, "accepted after the approval expired"


def _ctx(**kw: object) -> Context:
    facts = [TurbineFacts("T1", "S1", "edge-1", False, 1_000)]
    return Context(**{"now_ms": 10_000, "turbines": facts, "freezes": {}, **kw})  # type: ignore[arg-type]


def test_a_freeze_refuses_stop_and_names_itself_but_lets_start_through() -> None:
    freeze = Freeze(site_scope("S1"), "SITE_TELEMETRY_LOSS", 5_000, "2 of 3 turbines silent")
    ctx = _ctx(freezes={freeze.scope: freeze})
    stop = gate.decide(Request(Command.STOP, "alice", "storm", turbine_id="T1"), ctx, POLICY)
    assert (stop.outcome, stop.code) == (Outcome.REFUSED, gate.FROZEN)
    assert "site:S1" in stop.reason and "SITE_TELEMETRY_LOSS" in stop.reason
    assert gate.decide(Request(Command.START, "alice", "restart", turbine_id="T1"), ctx, POLICY).accepted


def test_unreadable_freezes_fail_safe() -> None:
    verdict = gate.decide(Request(Command.CURTAIL, "alice", "grid", turbine_id="T1", setpoint=0.8), _ctx(freezes=None), POLICY)
    assert verdict.code == gate.FROZEN and "failing safe" in verdict.reason


def test_stale_or_missing_state_refuses_any_command() -> None:
    for age in (None, 30_001):
        ctx = _ctx(turbines=[TurbineFacts("T1", "S1", "edge-1", False, age)])
        assert gate.decide(Request(Command.RESET, "alice", "fault", turbine_id="T1"), ctx, POLICY).code == gate.STALE_STATE


def test_protected_turbines_are_refused_alone_and_left_out_of_a_site() -> None:
    facts = [TurbineFacts("T1", "S1", "e", True, 1_000), TurbineFacts("T2", "S1", "e", False, 1_000)]
    alone = gate.decide(Request(Command.START, "alice", "x", turbine_id="T1"), _ctx(turbines=facts[:1]), POLICY)
    assert alone.code == gate.PROTECTED
    site = gate.decide(Request(Command.STOP, "alice", "x", site_id="S1"), _ctx(turbines=facts), POLICY)
    assert site.outcome is Outcome.PENDING_APPROVAL and site.turbines == ("T2",) and site.excluded == ("T1",)


def test_high_impact_needs_a_different_person_within_the_window() -> None:
    req = Request(Command.CURTAIL, "alice", "grid operator order", turbine_id="T1", setpoint=0.3)
    assert gate.decide(req, _ctx(), POLICY).outcome is Outcome.PENDING_APPROVAL
    assert gate.approve(req, " ALICE", 10_000, _ctx(), POLICY).code == gate.SAME_APPROVER
    assert gate.approve(req, "bob", 10_000 - POLICY.approval_ttl_ms - 1, _ctx(), POLICY).code == gate.EXPIRED
    assert gate.approve(req, "bob", 10_000, _ctx(), POLICY).accepted
    shallow = Request(Command.CURTAIL, "alice", "trim", turbine_id="T1", setpoint=0.6)
    assert gate.decide(shallow, _ctx(), POLICY).accepted


@pytest.mark.parametrize("req", [
    Request(Command.CURTAIL, "alice", "x", turbine_id="T1"),
    Request(Command.CURTAIL, "alice", "x", turbine_id="T1", setpoint=1.0),
    Request(Command.STOP, "alice", "x", turbine_id="T1", setpoint=0.5),
    Request(Command.STOP, "", "x", turbine_id="T1"),
    Request(Command.STOP, "alice", " ", turbine_id="T1"),
    Request(Command.STOP, "alice", "x", turbine_id="T1", site_id="S1"),
])
def test_malformed_requests_are_invalid(req: Request) -> None:
    assert gate.decide(req, _ctx(), POLICY).code == gate.INVALID
