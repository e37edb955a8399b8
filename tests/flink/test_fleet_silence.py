"""The whole fleet falls silent mid-stream for longer than the job's idle timeout (10 s here, the default before
it went to 120 s), then its backlog comes in a burst (22 batches, 12 minutes of event time, in a few seconds).
Without the bridge's heartbeats every partition turned idle in the silence; in the burst, the source subtask
that read first set the watermark alone, one fetch of a partition carries about two minutes of this scenario's
event time, and the other subtask's on-time readings fell behind it (a CI run of
tests/faults/test_savepoint_upgrade.py, whose sender waited that long: 1-minute windows of two turbines missed
up to half their readings). Parallelism 2, as there: two source subtasks. With heartbeats each partition stays
at the event time the fleet stopped at, and the strict oracle holds: nothing sent on time is judged late."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from anemos.platform import Names
from reliability import oracle
from reliability import scenario as ref
from reliability.pipeline import SHORT_IDLE_TIMEOUT_S, new_job
from stack.settings import StackSettings

pytestmark = [pytest.mark.flink, pytest.mark.integration]

SILENCE_S = SHORT_IDLE_TIMEOUT_S + 10


def test_a_burst_after_a_fleet_wide_silence_makes_nothing_late(stack: StackSettings, names: Names, tmp_path: Path) -> None:
    sc = ref.build(names.namespace.removeprefix("test_")[:8], seed=31)
    oracle.register_scenario(stack, sc)
    bridge = oracle.local_bridge(stack, names)
    job = new_job(stack, names, tmp_path, extra_args=("--loss-after-ms", str(ref.LOSS_AFTER_MS), "--parallelism", "2",
                                                  "--idle-timeout-s", str(SHORT_IDLE_TIMEOUT_S)))
    beats: dict[str, float] = {}

    def silence() -> None:
        beats["before"] = bridge.metrics.heartbeats._value.get()
        time.sleep(SILENCE_S)
        beats["after"] = bridge.metrics.heartbeats._value.get()

    problems = oracle.with_fault_mid_stream(stack, names, sc, job, bridge, silence)
    assert problems == [], "\n".join(problems)
    # every partition of the raw topic had heartbeats through the silence, about one a second
    assert beats["after"] - beats["before"] >= 4 * (SILENCE_S - 4), beats
