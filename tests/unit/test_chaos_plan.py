"""The chaos runner's pure parts: fault names, the scenario's length, the verdict, the process lookup."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from reliability import faults
from reliability import scenario as ref
from reliability.chaos import ChaosReport, ChaosSettings, Injected
from reliability.oracle import made_late_summary

pytestmark = pytest.mark.unit


def test_fault_names_parse_and_unknown_names_are_refused_by_name() -> None:
    assert [f.name for f in faults.parse("kafka-kill, redis-kill")] == ["kafka-kill", "redis-kill"]
    assert len(faults.parse("all")) == len(faults.FAULTS) == 9
    with pytest.raises(ValueError, match="unknown fault kafka-kil;"):
        faults.parse("kafka-kil")
    with pytest.raises(ValueError, match="none given"):
        faults.parse(" , ")


@pytest.mark.parametrize(("minutes", "event_minutes"), [(1, 20), (5, 20), (15, 60), (45, 120)])
def test_the_scenario_spans_four_event_minutes_per_wall_minute_within_bounds(minutes: float, event_minutes: int) -> None:
    assert ChaosSettings(minutes=minutes).event_minutes == event_minutes


def test_a_longer_scenario_has_more_readings_and_a_shorter_one_is_refused() -> None:
    per_minute = len(ref.CHANNELS) * 60
    silent_after = 8  # one turbine falls silent after minute 8
    for minutes in (20, 30):
        assert len(ref.build("x", minutes=minutes).ontime) == per_minute * (4 * minutes + silent_after)
    with pytest.raises(ValueError, match="at least 20"):
        ref.build("x", minutes=10)


def _report(problems: list[str], *recovered: float | None, error: str = "") -> ChaosReport:
    injected = [Injected("kafka-kill", 30.0, "", 20.0, r, error) for r in recovered]
    return ChaosReport(1, 5, "now", injected, problems, {}, 1, recovery_bound_s=180)


def test_the_verdict_needs_every_oracle_point_and_every_recovery_within_the_bound() -> None:
    assert _report([], 12.0, 40.0).ok
    assert not _report(["(a) raw: missing 1"], 12.0).ok
    assert not _report([], 12.0, None).ok  # (g): a fault without a next commit
    assert not _report([], 181.0).ok
    assert not _report([], 5.0, error="no TaskManager runs tasks").ok  # a fault that could not be done is no pass


def test_python_workers_are_found_by_session_and_module() -> None:
    """A stand-in with a worker's module name in its command line, in its own session, is found; others are not."""
    code = "import time; time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code, "pyflink.fn_execution.beam.beam_boot"], start_new_session=True)
    try:
        assert faults.python_workers(proc.pid) == [proc.pid]
        assert proc.pid not in faults.python_workers(os.getsid(0))
    finally:
        proc.kill()
        proc.wait()


class _RestartingCluster:
    """A cluster whose job runs no tasks for its first ``empty`` polls (between a restart and its deployment)."""

    def __init__(self, empty: int) -> None:
        self.polls, self.empty = 0, empty

    def taskmanagers_of(self, job_id: str, vertex_contains: str = "") -> list[int]:
        self.polls += 1
        return [] if self.polls <= self.empty else [2]


def test_a_fault_waits_for_a_restarting_job_to_run_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults.time, "sleep", lambda _s: None)
    cluster = _RestartingCluster(empty=3)
    target = faults.Target(stack=None, cluster=cluster, job_id="j", readings_table="ns.readings")  # type: ignore[arg-type]
    assert faults._busy_taskmanagers(target) == [2]
    assert cluster.polls == 4


def test_a_job_that_never_runs_again_is_a_clear_fault_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults.time, "sleep", lambda _s: None)
    monkeypatch.setattr(faults, "BUSY_WAIT_S", -1.0)  # the deadline has passed at the first look
    target = faults.Target(stack=None, cluster=_RestartingCluster(empty=10**6), job_id="j",  # type: ignore[arg-type]
                           readings_table="ns.readings")
    with pytest.raises(faults.FaultError, match="no TaskManager runs tasks of job j"):
        faults._busy_taskmanagers(target)


def test_made_late_summary_names_turbines_partitions_and_how_far_behind() -> None:
    made = pd.DataFrame({
        "turbine_id": ["T2", "T0", "T2"], "kafka_partition": [3, 1, 3],
        "event_time": pd.to_datetime([200_000, 230_000, 260_000], unit="ms", utc=True).astype("datetime64[ms, UTC]"),
        "arrival_watermark": pd.to_datetime([265_000, 265_000, 290_500], unit="ms", utc=True).astype("datetime64[us, UTC]"),
    })
    line = made_late_summary(made)
    assert line.startswith("3 on-time readings were judged late: turbines ['T0', 'T2'], kafka partitions [1, 3]")
    assert "event time 200000 to 260000" in line
    assert line.endswith("behind the watermark by 30.5 to 65.0 s")


def test_window_drops_are_summed_per_task_from_the_rest_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """The REST shapes of Flink 2.0 (a canned answer: the real one is read by the chaos runs)."""
    from cluster.flink import FlinkCluster
    from stack.settings import StackSettings

    window = "WindowAggregate(groupBy=[turbine_id, sensor_id], window=[TUMBLE(time_col=[rowtime], size=[1 min])])"
    rest = {
        "/jobs/j/metrics": [],
        "/jobs/j": {"vertices": [{"id": "v1", "name": window}, {"id": "v2", "name": "Source: raw"}]},
        "/jobs/j/vertices/v1/metrics": [{"id": f"{i}.{window[:60]}.numLateRecordsDropped"} for i in (0, 1)]
                                       + [{"id": "0.numRecordsIn"}],
        "/jobs/j/vertices/v2/metrics": [{"id": "0.numRecordsIn"}],
    }
    got = f"/jobs/j/vertices/v1/metrics?get=0.{window[:60]}.numLateRecordsDropped,1.{window[:60]}.numLateRecordsDropped"
    rest[got] = [{"id": "0.x.numLateRecordsDropped", "value": "31"}, {"id": "1.x.numLateRecordsDropped", "value": "27.0"}]
    cluster = FlinkCluster(StackSettings())
    asked: list[str] = []
    monkeypatch.setattr(cluster, "_get", lambda path: asked.append(path) or rest[path])
    monkeypatch.setattr(time, "sleep", lambda s: asked.append(f"sleep {s}"))
    assert cluster.late_records_dropped("j") == {window[:80]: 58}
    # the REST server's metric cache is asked to refresh, and given the time to, before anything is read
    assert asked[:3] == ["/jobs/j/metrics", f"sleep {cluster.metrics_settle_s}", "/jobs/j"], asked
    assert cluster.metrics_settle_s >= 2 * cluster.s.metrics_fetch_interval_ms / 1000
