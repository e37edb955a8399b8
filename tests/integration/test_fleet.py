"""A simulated fleet through edge agents, mTLS and the bridge into real Kafka."""

import json
from pathlib import Path

import pytest

from anemos import platform
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from edge_bridge.simulator import run_fleet
from stack.settings import StackSettings

pytestmark = pytest.mark.integration


def test_fleet_readings_are_all_accounted_for(stack: StackSettings, tmp_path: Path) -> None:
    platform.ensure(stack)
    bridge = Bridge(BridgeSettings.from_stack(stack)).start()
    try:
        report = run_fleet(stack, turbines=300, farms=5, seed=99, readings=36_000, duration_s=None,
                           fault_share=0.2, labels_out=tmp_path / "labels.json", agents_dir=tmp_path / "agents")
    finally:
        bridge.stop()
    labels = json.loads((tmp_path / "labels.json").read_text())
    skewed = [x for x in labels if x["kind"] == "clock_skew"]
    assert report.generated == 36_000 and report.gateways == 5
    assert report.accepted + report.rejected == report.generated, report
    assert report.quarantined_batches == 0
    # the only refusals are the readings of turbines whose clock was skewed 20 min ahead
    assert set(report.rejected_by_reason) <= {"TIMESTAMP_IN_FUTURE"}
    assert (report.rejected > 0) == any(x["start_ms"] < x["end_ms"] for x in skewed)
