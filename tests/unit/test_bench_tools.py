"""The bench's profiling helper and results metadata, without a job: a process that looks like the job's Python
worker is found and its CPU is counted; a bad interval is one clear line."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bench import job_environment
from bench.job_threads import cpu_seconds_by_thread, main

pytestmark = pytest.mark.unit

# its command line names flink_jobs.ingest, as the job's processes do; it spins for 2.5 seconds
BUSY = "import time  # flink_jobs.ingest\nt = time.time()\nwhile time.time() - t < 2.5:\n    pass\n"


def test_a_busy_job_process_shows_its_cpu_by_thread() -> None:
    before = cpu_seconds_by_thread()
    spinner = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        time.sleep(1.5)
        after = cpu_seconds_by_thread()
    finally:
        spinner.wait(timeout=10)
    gained = sum(after[k] - before.get(k, 0.0) for k in after if k.startswith("py:"))
    assert gained >= 0.3, after  # the spinner spun for 1.5 s; a third of that even on a loaded machine


def test_a_non_positive_interval_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--interval", "0"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("--interval must be above 0 (got 0.0)")


def test_results_record_the_jobs_environment_settings_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANEMOS_JOB_LKG_FLUSH_MS", "60000")
    monkeypatch.setenv("ANEMOS_STACK_HOME", "/elsewhere")
    env = job_environment()
    assert env["ANEMOS_JOB_LKG_FLUSH_MS"] == "60000"
    assert all(k.startswith("ANEMOS_JOB_") for k in env)
