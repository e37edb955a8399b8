"""The bench's profiling helper, results metadata and A/B harness, without a job: a process that looks like the job's Python
worker is found and its CPU is counted; a bad interval is one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import ab, job_environment, python_profile, rules_instant, stream_e2e, stream_latency
from bench.job_threads import cores_by_thread, cpu_seconds_by_thread, main

pytestmark = pytest.mark.unit

# its command line names flink_jobs.ingest, as the job's processes do; it names its thread (a job process of an
# earlier test, ending meanwhile, would otherwise take its "python" CPU out of the sum) and spins for 2.5 seconds
BUSY = ("import time  # flink_jobs.ingest\nopen('/proc/self/comm', 'w').write('anemos-spinner')\n"
        "t = time.time()\nwhile time.time() - t < 2.5:\n    pass\n")


def test_a_busy_job_process_shows_its_cpu_by_thread() -> None:
    before = cpu_seconds_by_thread()
    spinner = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        time.sleep(1.5)
        after = cpu_seconds_by_thread()
    finally:
        spinner.wait(timeout=10)
    gained = after["py:anemos-spinner"] - before["py:anemos-spinner"]
    assert gained >= 0.3, after  # the spinner spun for 1.5 s; a third of that even on a loaded machine


def test_a_worker_that_ends_takes_nothing_from_the_threads_of_its_name_that_go_on() -> None:
    # two Python workers with a thread of the same name: the first ends, the second spends 1.5 s in the 2 s
    # interval, and a thread started meanwhile spends 0.4 s (summed by name first, the interval would show
    # 1.5 - 9.0 for "py:python")
    before = {(10, "10"): ("py:python", 9.0), (11, "11"): ("py:python", 3.0), (12, "12"): ("jvm:Window", 5.0)}
    after = {(11, "11"): ("py:python", 4.5), (12, "12"): ("jvm:Window", 5.0), (13, "14"): ("jvm:Sink", 0.4)}
    assert cores_by_thread(before, after, 2.0) == {"py:python": 0.75, "jvm:Sink": 0.2}


def test_rocksdb_metrics_are_summed_per_operator_and_only_for_operators_that_report_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import job_threads

    sst = "rocksdb.default_deduplicate-state.total-sst-files-size"  # hypothetical ids: the tool only filters on "rocksdb"
    running = "rocksdb.window-aggs.num-running-compactions"
    base = "/jobs/j/vertices"
    pages = {
        "/jobs": {"jobs": [{"id": "old", "status": "FINISHED"}, {"id": "j", "status": "RUNNING"}]},
        "/jobs/j": {"vertices": [{"id": "v1", "name": "Deduplicate[9]"}, {"id": "v2", "name": "IcebergFilesCommitter"}]},
        f"{base}/v1/subtasks/metrics": [{"id": sst}, {"id": running}, {"id": "numRecordsIn"}],
        f"{base}/v1/subtasks/metrics?get={sst},{running}": [{"id": sst, "min": 1, "max": 2, "sum": 3},
                                                            {"id": running, "sum": 0}],
        f"{base}/v2/subtasks/metrics": [{"id": "numRecordsIn"}],
    }
    monkeypatch.setattr(job_threads, "rest_json", lambda base_url, path, timeout_s=2: pages[path])
    assert job_threads.rocksdb_metrics(1) == {"Deduplicate[9]": {sst: 3, running: 0}}


def test_a_non_positive_interval_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--interval", "0"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("--interval must be above 0 (got 0.0)")


def test_the_drain_rate_leaves_out_the_wait_for_the_commit_that_completes_the_backlog() -> None:
    # 6 s between commits; the job finished the last 12,000 readings early in the third interval
    samples = [(10.0, 20_000), (16.0, 50_000), (22.0, 60_000), (28.0, 72_000)]
    assert stream_e2e.busy_rate(samples, 72_000) == pytest.approx(40_000 / 12)
    # the slope to the last commit would count the idle end: 52,000 / 18 s
    assert stream_e2e.busy_rate(samples, 72_000) > (72_000 - 20_000) / 18


def test_a_drain_with_fewer_than_two_commits_under_load_is_one_clear_error() -> None:
    with pytest.raises(RuntimeError, match="raise --readings"):
        stream_e2e.busy_rate([(10.0, 50_000), (16.0, 72_000)], 72_000)


def test_results_record_the_jobs_environment_settings_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANEMOS_JOB_HOT_FLUSH_MS", "500")
    monkeypatch.setenv("ANEMOS_STACK_HOME", "/elsewhere")
    env = job_environment()
    assert env["ANEMOS_JOB_HOT_FLUSH_MS"] == "500"
    assert all(k.startswith("ANEMOS_JOB_") for k in env)


def test_checkpoint_stats_give_counts_durations_and_the_distinct_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    pages = {
        "/jobs": {"jobs": [{"id": "old", "status": "FINISHED"}, {"id": "j1", "status": "RUNNING"}]},
        "/jobs/j1/checkpoints": {
            "counts": {"completed": 52, "failed": 7},
            "summary": {"end_to_end_duration": {"min": 271, "p50": 898.0, "p99": 5071.0, "max": 5071, "avg": 1}},
            "history": [{"status": "COMPLETED"}, {"status": "FAILED", "failure_message": "Not all required tasks are running"},
                        {"status": "FAILED", "failure_message": "Not all required tasks are running"},
                        {"status": "FAILED", "failure_message": None}],
        },
    }
    monkeypatch.setattr(stream_latency, "rest_json", lambda base, path, timeout_s=5: pages[path])
    assert stream_latency.checkpoint_stats("http://127.0.0.1:1") == {
        "completed": 52, "failed": 7, "duration_ms": {"min": 271, "p50": 898.0, "p99": 5071.0, "max": 5071},
        "failures_in_history": ["?", "Not all required tasks are running"],
    }
    pages["/jobs"] = {"jobs": []}
    assert stream_latency.checkpoint_stats("http://127.0.0.1:1") == {}


def test_barrier_delays_take_each_operators_slowest_subtask(monkeypatch: pytest.MonkeyPatch) -> None:
    def subtask(delay: int, e2e: int, sync: int) -> dict[str, object]:
        return {"start_delay": delay, "end_to_end_duration": e2e, "checkpoint": {"sync": sync, "async": 1}}

    pages = {
        "/jobs": {"jobs": [{"id": "j1", "status": "RUNNING"}]},
        "/jobs/j1": {"vertices": [{"id": "v1", "name": "turbine-rules"}, {"id": "v2", "name": "Source: raw"}]},
        "/jobs/j1/checkpoints": {"latest": {"completed": {"id": 23}}},
        "/jobs/j1/checkpoints/details/23": {"tasks": {"v1": {}, "v2": {}}},
        "/jobs/j1/checkpoints/details/23/subtasks/v1": {"subtasks": [subtask(22, 839, 38), subtask(5, 100, 40)]},
        "/jobs/j1/checkpoints/details/23/subtasks/v2": {"subtasks": [subtask(9, 35, 18)]},
    }
    monkeypatch.setattr(stream_latency, "rest_json", lambda base, path, timeout_s=5: pages[path])
    delays, times = stream_latency.barrier_delays("http://127.0.0.1:1")
    assert delays == {"Source: raw": 9, "turbine-rules": 22}
    assert list(times) == ["Source: raw", "turbine-rules"]  # the slowest last
    assert times["turbine-rules"] == {"end_to_end": 839, "barrier_delay": 22, "sync": 40, "async": 1}


def _repo(tmp_path: Path) -> Path:
    """A git repository whose one file reads "old" at its commit and "new" in the working tree."""
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    (tmp_path / "job.py").write_text("old")
    git("add", "job.py")
    git("commit", "-qm", "old")
    (tmp_path / "job.py").write_text("new")
    (tmp_path / "bench" / "results" / "experiments").mkdir(parents=True)
    return tmp_path


def test_ab_alternates_the_commits_file_with_the_working_trees_and_puts_it_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _repo(tmp_path)
    seen: list[str] = []
    rates = iter([100.0, 300.0, 120.0, 200.0, 80.0, 250.0])  # a, b, a, b, a, b

    def fake_run(bench: str, _extra: list[str], _out: Path) -> dict[str, float]:
        assert bench == "stream_e2e"
        seen.append((root / "job.py").read_text())
        return {"job_readings_per_s": next(rates), "ratio": 0.1, "late_readings": 0}

    monkeypatch.setattr(ab, "ROOT", root)
    monkeypatch.setattr(ab, "one_run", fake_run)
    assert ab.main(["job.py", "--against", "HEAD", "--name", "t"]) == 0
    assert seen == ["old", "new"] * 3
    assert (root / "job.py").read_text() == "new"
    result = json.loads((root / "bench" / "results" / "experiments" / "t.json").read_text())
    assert result["a"]["median"]["job_readings_per_s"] == 100.0 and result["b"]["median"]["job_readings_per_s"] == 250.0
    assert result["b_over_a_median_rate"] == 2.5


def test_ab_puts_the_file_back_when_a_run_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path)

    def failing_run(_bench: str, _extra: list[str], _out: Path) -> dict[str, float]:
        raise subprocess.CalledProcessError(3, "bench")

    monkeypatch.setattr(ab, "ROOT", root)
    monkeypatch.setattr(ab, "one_run", failing_run)
    assert ab.main(["job.py", "--against", "HEAD", "--name", "t"]) == 1
    assert (root / "job.py").read_text() == "new"
    assert "a bench run failed (exit 3)" in capsys.readouterr().err


def test_ab_with_an_unknown_commit_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ab, "ROOT", _repo(tmp_path))
    with pytest.raises(SystemExit) as exited:
        ab.main(["job.py", "--against", "nosuchref", "--name", "t"])
    assert str(exited.value.code).startswith("error: job.py at nosuchref:")


@pytest.mark.parametrize("argv", [["--checkpoint-ms", "0"], ["--checkpoint-min-pause-ms", "-1"]])
def test_a_drain_with_a_bad_checkpoint_setting_is_one_clear_error_before_any_server_starts(
        argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import stream_e2e

    monkeypatch.setattr(stream_e2e.manager, "up", lambda _s: pytest.fail("the stack was started"))
    monkeypatch.setattr(sys, "argv", ["bench.stream_e2e", *argv])
    with pytest.raises(SystemExit) as exited:
        stream_e2e.main()
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("python -m bench.stream_e2e: error: --") and "must be at least" in err, err


@pytest.mark.parametrize(("argv", "says"), [
    (["--shapes", "job,sideways"], "--shapes takes"), (["--shapes", ""], "--shapes takes"),
    (["--shapes", " , "], "--shapes takes"), (["--flink-conf", "parallelism.default"], "--flink-conf takes KEY=VALUE"),
])
def test_the_ceiling_bench_refuses_a_bad_flag_before_any_server_starts(
        argv: list[str], says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import stream_ceiling

    monkeypatch.setattr(stream_ceiling.manager, "up", lambda _s: pytest.fail("the stack was started"))
    with pytest.raises(SystemExit) as exited:
        stream_ceiling.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"python -m bench.stream_ceiling: error: {says}"), err


def test_the_ceiling_shapes_are_compared_by_their_medians_to_the_jobs() -> None:
    from bench.stream_ceiling import summarize

    def run(rate: float) -> dict[str, float]:
        return {"job_readings_per_s": rate, "baseline_decode_per_s": 2 * rate}

    summary = summarize({"job": [run(3_000), run(1_000), run(2_000)], "source": [run(9_000), run(12_000), run(3_000)]})
    assert summary["job"]["median_readings_per_s"] == 2_000 and summary["job"]["ratio_to_job"] == 1.0
    assert summary["source"]["median_readings_per_s"] == 9_000
    assert summary["source"]["ratio_to_job"] == pytest.approx(4.5)
    assert summary["source"]["share_of_target"] == pytest.approx(0.18)
    assert summary["source"]["median_baseline_decode_per_s"] == 18_000
    assert summarize({"sql": [run(5.0)]})["sql"]["ratio_to_job"] is None  # no job in the run: no ratio


def test_the_ceiling_jobs_avro_source_is_the_jobs_source_reading_the_readings_schema_field_for_field() -> None:
    """The JVM reads the bridge's records by a reader schema derived from these columns: a field renamed,
    added or retyped in schemas/sensor_reading.avsc must show here, not as a bench run that fails; and the
    rest of the table is raw_source.sql's own (an edit that finds nothing is refused)."""
    import re

    import schemas
    from bench.ceiling_job import avro_source
    from flink_jobs.common import sql

    params = {k: "x" for k in ("raw_topic", "bootstrap_servers", "consumer_group", "partition_fetch_bytes",
                               "watermark_bound_s", "heartbeat_key")}
    job = sql.load("flink/raw_source.sql", params)
    ddl, view = avro_source(job, "http://registry:8080/apis/ccompat/v7")
    physical = re.findall(r"`(\w+)` (STRING|BIGINT|DOUBLE) NOT NULL", ddl)
    avro = {"string": "STRING", "double": "DOUBLE", "long": "BIGINT"}
    expected = [(f["name"], avro[f["type"]["type"] if isinstance(f["type"], dict) else f["type"]])
                for f in schemas.load("sensor_reading")["fields"]]
    assert physical == expected
    assert "'value.avro-confluent.url' = 'http://registry:8080/apis/ccompat/v7'" in ddl and "record_value" not in ddl
    assert view == job[1] and "'properties.max.partition.fetch.bytes' = 'x'" in ddl
    with pytest.raises(ValueError, match="needs updating"):
        avro_source([job[0].replace("'value.format' = 'raw'", "'value.format' = 'json'"), job[1]], "u")


@pytest.mark.parametrize("plan", ["direct", "cascade"])
def test_the_ceiling_replaces_the_percentile_calls_in_every_window_or_refuses(plan: str) -> None:
    from bench.ceiling_job import SHAPE_EDITS, Edits
    from flink_jobs.common import sql

    params = {"sample_interval_ms": 1000, "view": "v", "window_minutes": 10}
    files = {"direct": ("flink/turbine_window.sql", "flink/site_window.sql"),
             "cascade": ("flink/cascade_parts.sql", "flink/cascade_turbine_1m.sql", "flink/cascade_turbine_10m.sql",
                         "flink/cascade_site_1h.sql")}[plan]
    for shape, replacements in SHAPE_EDITS[plan].items():
        edits = Edits(replacements)
        replaced = " ".join(s for name in files for s in edits(sql.load(name, params)))
        edits.check()
        assert "WINDOW_PERCENTILES" not in replaced, shape
        assert all(new in replaced for new in replacements.values()), shape
    nopct = Edits(SHAPE_EDITS[plan]["nopct"])
    assert "ARRAY_AGG(`value`)" not in " ".join(s for name in files for s in nopct(sql.load(name, params)))
    edits = Edits(SHAPE_EDITS[plan]["sql"])
    edits(["SELECT AVG(`value`) FROM t"])
    with pytest.raises(ValueError, match="nothing to replace"):
        edits.check()


BEAM = ("Thread._bootstrap (threading.py:1002);SdkWorker.do_instruction (apache_beam/runners/worker/sdk_worker.py:656);"
        "BundleProcessor.process_bundle (apache_beam/runners/worker/bundle_processor.py:1274);"
        "DataInputOperation.process_encoded (apache_beam/runners/worker/bundle_processor.py:237)")


def test_a_profile_charges_each_bundle_sample_to_the_outermost_function_of_the_job() -> None:
    raw = [
        # the decoder calling udfs: charged to the decoder, which called it
        f"{BEAM};DecodeBatch.eval (/work/main/flink_jobs/ingest/functions.py:81);"
        "ReadingDecoder.decode (/work/main/udfs/wire.py:110) 6\n",
        f"{BEAM};DecodeBatch.eval (/work/main/flink_jobs/ingest/functions.py:82) 2\n",
        # PyFlink alone, inside a bundle: named by its innermost two frames
        f"{BEAM};Row.__init__ (pyflink/common/types.py:110) 2\n",
        # an idle gRPC thread, outside any bundle: counted in the samples, not the shares
        "Thread._bootstrap (threading.py:1002);Condition.wait (threading.py:331) 90\n",
        "not a sample line\n",
    ]
    got = python_profile.summarize(raw)
    assert (got["samples"], got["bundle_samples"]) == (100, 10)
    assert [(r["where"], r["samples"], r["share"]) for r in got["by_function"]] == [
        ("DecodeBatch.eval (flink_jobs/ingest/functions.py)", 8, 0.8),
        ("outside the job's code: DataInputOperation.process_encoded > Row.__init__", 2, 0.2),
    ]


def test_a_profile_of_a_missing_file_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        python_profile.main(["--summarize", str(tmp_path / "none.txt")])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(f"--summarize: no file {tmp_path / 'none.txt'}")


def test_the_rules_instant_bench_decodes_both_input_shapes_alike_and_writes_medians(tmp_path: Path,
                                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    t, readings = rules_instant.fleet_instants(1)[0]
    job = rules_instant.coder(rules_instant.RULE_BATCH)
    nested = rules_instant.coder(rules_instant.NESTED_BATCH)
    row, old = job.decode(job.encode(rules_instant.batch_row(t, readings))), nested.decode(nested.encode(rules_instant.nested_row(t, readings)))
    assert list(zip(row[2].split(","), row[3].split(","), row[4])) == [tuple(r) for r in old[2]] == readings
    out = tmp_path / "r.json"
    assert rules_instant.main(["--instants", "40", "--runs", "3", "--out", str(out), "--json"]) == 0
    result = json.loads(out.read_text())
    assert len(result["runs"]) == 3 and result["median"]["process_element_us"] > 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result
    with pytest.raises(SystemExit) as exit_:
        rules_instant.main(["--runs", "0"])
    assert exit_.value.code == 2 and "at least 1" in capsys.readouterr().err


def test_ab_of_the_live_latency_reads_each_runs_alert_and_window_figures(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _repo(tmp_path)
    p50s = iter([12.0, 6.0, 10.0, 5.0, 14.0, 4.0])  # a, b, a, b, a, b
    commands: list[list[str]] = []

    def fake_subprocess_run(cmd: list[str], **_kw: object) -> subprocess.CompletedProcess[str]:
        if cmd[0] == "git":  # the working tree's commit, for the record
            return subprocess.CompletedProcess(cmd, 0, stdout="abc1234\n")
        commands.append(cmd)
        out = Path(cmd[cmd.index("--out") + 1])
        p50 = next(p50s)
        run = {"alerts": {"p50_s": p50, "p99_s": p50 + 2, "alerts_seen": 14},
               "window_close_to_postgres": {"p50_s": p50 - 1, "p99_s": None}}
        out.write_text(json.dumps({"per_run": [run], "measured_at": "2026-12-05T12:00:00Z"}))
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(ab, "ROOT", root)
    monkeypatch.setattr(ab.subprocess, "run", fake_subprocess_run)
    monkeypatch.setattr(ab, "git_show", lambda _commit, _path: b"old")
    assert ab.main(["job.py", "--against", "HEAD", "--name", "t", "--bench", "stream_latency",
                    "--bench-arg=--rate=4968"]) == 0
    assert all(c[2] == "bench.stream_latency" and "--rate=4968" in c for c in commands) and len(commands) == 6
    result = json.loads((root / "bench" / "results" / "experiments" / "t.json").read_text())
    assert result["a"]["median"] == {"alert_p50_s": 12.0, "alert_p99_s": 14.0, "window_p50_s": 11.0, "alerts_seen": 14}
    assert result["b"]["median"]["alert_p50_s"] == 5.0
    assert "window_p99_s" not in result["b"]["median"]  # a run without the figure leaves it out, not a median of some
    assert result["b_over_a_median_alert_p50"] == 5.0 / 12.0
