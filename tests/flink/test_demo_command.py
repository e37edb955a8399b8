"""The README's first command, as a newcomer runs it (smaller N to keep the suite short)."""

import json
import subprocess
import sys

import pytest

from stack.settings import PROJECT_ROOT, StackSettings

pytestmark = [pytest.mark.flink, pytest.mark.integration]


def test_demo_ends_with_sent_equal_to_stored_and_every_sink_filled(stack: StackSettings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "anemos", "demo", "--readings", "6000", "--turbines", "4", "--json"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert out["exactly_once"] is True
    assert out["sent"] == out["acknowledged"] == out["stored_rows"] == out["stored_distinct"] == 6000
    assert out["missing"] == out["unexpected"] == 0
    # 6,000 readings of 4 turbines x 12 channels span two minutes of event time: windows have fired
    assert out["postgres_1m_rows"] > 0
    assert out["redis_lkg_turbines"] == out["turbines"] == 4
