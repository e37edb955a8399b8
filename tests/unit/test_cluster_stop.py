"""Stop with a savepoint: it returns only once the job has finished (canned REST answers; the real ones are read
by tests/faults/test_savepoint_upgrade.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from cluster import flink
from cluster.flink import ClusterError, FlinkCluster
from flink_jobs.common import checkpoints
from stack.settings import StackSettings

pytestmark = pytest.mark.unit


def _cluster(monkeypatch: pytest.MonkeyPatch, states: list[str], tmp_path: Path) -> tuple[FlinkCluster, list[str]]:
    """A cluster whose job reports ``states`` one poll after another (the last one repeats), after a savepoint
    that completes at the first poll."""
    location = tmp_path / "savepoints" / "savepoint-0a1b2c-000000000000"
    location.mkdir(parents=True)
    asked: list[str] = []
    left = list(states)

    def get(path: str) -> dict[str, Any]:
        asked.append(path)
        if path == "/jobs/j/config":
            return {"execution-config": {"user-config": {"anemos.window-plan": "cascade"}}}
        if path == "/jobs/j/savepoints/r1":
            return {"status": {"id": "COMPLETED"}, "operation": {"location": f"file:{location}"}}
        if path == "/jobs/j":
            return {"state": left.pop(0) if len(left) > 1 else left[0]}
        raise AssertionError(path)

    cluster = FlinkCluster(StackSettings())
    monkeypatch.setattr(cluster, "_get", get)
    monkeypatch.setattr(flink.httpx, "post", lambda *a, **k: httpx.Response(200, json={"request-id": "r1"}))
    monkeypatch.setattr(flink.time, "sleep", lambda s: None)
    return cluster, asked


def test_stop_returns_once_the_job_reports_finished_not_at_the_savepoint(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    # the REST answer lags the savepoint (the CI run of 91523e3 saw RUNNING right after COMPLETED)
    cluster, asked = _cluster(monkeypatch, ["RUNNING", "RUNNING", "FINISHED"], tmp_path)
    location = cluster.stop_with_savepoint("j", tmp_path / "savepoints")
    assert location.endswith("savepoint-0a1b2c-000000000000")
    assert asked.count("/jobs/j") == 3
    assert asked[-1] == "/jobs/j"
    # the window plan is recorded beside the savepoint, for the restore
    assert (checkpoints.local_path(location) / checkpoints.WINDOW_PLAN_FILE).read_text().strip() == "cascade"


@pytest.mark.parametrize("end", ["FAILED", "CANCELED"])
def test_a_job_that_ends_otherwise_after_its_savepoint_is_an_error(end: str, monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    cluster, _ = _cluster(monkeypatch, ["RUNNING", end], tmp_path)
    with pytest.raises(ClusterError, match=f"job j ended {end} after its savepoint, not FINISHED"):
        cluster.stop_with_savepoint("j", tmp_path / "savepoints")


def test_a_job_that_never_ends_after_its_savepoint_times_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cluster, _ = _cluster(monkeypatch, ["RUNNING"], tmp_path)
    clock = iter(range(0, 10_000, 5))
    monkeypatch.setattr(flink.time, "monotonic", lambda: float(next(clock)))
    with pytest.raises(ClusterError, match="job j finished after its savepoint: not within 60s"):
        cluster.stop_with_savepoint("j", tmp_path / "savepoints", timeout_s=60)
