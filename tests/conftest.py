"""Session fixtures: the real local stack (bring your own, or started here) and unique names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from anemos import platform
from anemos.runner import flink_events
from stack.settings import StackSettings


@pytest.fixture(scope="session")
def stack() -> Iterator[StackSettings]:
    """The stack named by ANEMOS_STACK_* settings; started (idempotently) if it is not running.

    It is left running at the end: `anemos stack down` stops it, and a later session reuses it.
    """
    from stack import manager

    settings = StackSettings()
    manager.up(settings)
    yield settings


@pytest.fixture
def names(stack: StackSettings) -> platform.Names:
    """Fresh topics, Iceberg namespace and Redis prefix for one test, created on the stack."""
    tag = uuid.uuid4().hex[:10]
    made = platform.Names.isolated(tag)
    platform.ensure(stack, made)
    return made


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test that ran a job on the local mini-cluster reports what the job went through (restarts,
    restores, checkpoints, causes), read from the job's own Flink log under the test's tmp_path."""
    report = yield
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and call.when == "call" and isinstance(tmp_path, Path):
        for log_dir in sorted(tmp_path.glob("*-flink")):
            events = flink_events(log_dir)
            report.sections.append((f"Flink job lifecycle ({log_dir.name})", "\n".join(events) or "(nothing logged)"))
    return report
