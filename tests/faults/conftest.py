"""Fixtures of the fault tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cluster.flink import FlinkCluster
from stack.settings import StackSettings


@pytest.fixture(scope="module")
def cluster(stack: StackSettings) -> Iterator[FlinkCluster]:
    """One JobManager and two TaskManagers (2 slots each) from the bundled distribution, stopped at the end of
    the module, so each module's TaskManagers start fresh."""
    c = FlinkCluster(stack)
    c.up()
    yield c
    c.down()
