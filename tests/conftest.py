"""Session fixtures: the real local stack (bring your own, or started here) and unique names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from anemos import platform
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
