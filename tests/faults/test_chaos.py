"""The chaos runner, short: every fault of reliability.faults once (seeded order) on the standalone cluster while
the oracle's scenario streams in, then every oracle point, a to g. ``anemos chaos --minutes 15`` is the long run."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.flink import FlinkCluster
from reliability import chaos
from reliability import faults as F
from stack.settings import StackSettings

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]


@pytest.mark.timeout(1_800)  # 8 minutes of faults, then the oracle: more than the suite's 15-minute default
def test_every_fault_once_under_a_streaming_scenario_keeps_every_oracle_point(stack: StackSettings, tmp_path: Path) -> None:
    settings = chaos.ChaosSettings(minutes=8, seed=5, gap_s=(10, 20))
    try:
        report = chaos.run(stack, settings, on_event=print, work_dir=tmp_path)
    finally:
        FlinkCluster(stack).down()
    for i in report.injected:
        print(f"{i.at_s:>6}s {i.fault:<20} outage {i.outage_s:>5}s next commit {i.recovered_s}s  {i.detail} {i.error}")
    assert {i.fault for i in report.injected} == set(F.FAULTS), "a short run must still inject every kind of fault"
    assert report.restored_from_checkpoint >= 1, "no fault made the job restore from a checkpoint"
    print(f"on-time readings made late by the faults: {report.counts['on-time readings made late by faults']}")
    assert report.problems == [], "\n".join(report.problems)
    assert report.ok, [i for i in report.injected if i.error or i.recovered_s is None or i.recovered_s > report.recovery_bound_s]
