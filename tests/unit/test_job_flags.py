"""The job's command line: extra Flink configuration from flags over the environment."""

from __future__ import annotations

import pytest

from flink_jobs.ingest.__main__ import parse

NO_STATE = ["--restore-from", "none", "--fresh-start"]


def test_flink_conf_flags_override_the_environment_key_by_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANEMOS_JOB_FLINK_CONF", '{"rest.port": "8081", "pipeline.name": "from-env"}')
    settings, _ = parse([*NO_STATE, "--flink-conf", "rest.port=18999", "--flink-conf", "k=a=b"])
    assert settings.flink_conf == {"rest.port": "18999", "pipeline.name": "from-env", "k": "a=b"}


def test_no_flink_conf_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANEMOS_JOB_FLINK_CONF", raising=False)
    settings, _ = parse(NO_STATE)
    assert settings.flink_conf == {}


@pytest.mark.parametrize("bad", ["rest.port", "rest.port=", "=18999"])
def test_flink_conf_without_key_and_value_is_one_clear_error(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse([*NO_STATE, "--flink-conf", bad])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith(f"--flink-conf takes KEY=VALUE, not {bad!r}")


def test_a_job_process_works_in_its_own_tmp_dir_and_clears_those_of_dead_ones(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    from flink_jobs.common.env import process_tmp_dir

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    (tmp_path / dead / "minicluster_x").mkdir(parents=True)  # a killed job's RocksDB left behind
    (tmp_path / "1").mkdir()  # pid 1 lives: another job's directory is left alone
    (tmp_path / "notes").mkdir()  # not a process's directory: left alone
    mine = process_tmp_dir(tmp_path)
    assert mine == tmp_path / str(os.getpid()) and mine.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["1", "notes", str(os.getpid())])


def test_a_fractional_watermark_bound_reaches_the_source_ddl_to_the_millisecond() -> None:
    from flink_jobs.common import sql
    from flink_jobs.ingest.pipeline import sql_params

    settings, _ = parse([*NO_STATE, "--watermark-bound-s", "0.25"])
    assert settings.watermark_bound_s == 0.25
    ddl = "\n".join(sql.load("flink/raw_source.sql", sql_params(settings)))
    assert "WATERMARK FOR `ts` AS `ts` - INTERVAL '0.250' SECOND" in ddl
    default, _ = parse(NO_STATE)
    assert "INTERVAL '5.000' SECOND" in "\n".join(sql.load("flink/raw_source.sql", sql_params(default)))


@pytest.mark.parametrize(("argv", "fetch"), [
    ([], 1024 * 1024),  # idleness off: Kafka's own default fetch
    (["--idle-timeout-s", "10"], 64 * 1024),  # on: small fetches, so no partition waits its turn into idleness
    (["--partition-fetch-bytes", "262144"], 262144),
    (["--idle-timeout-s", "10", "--partition-fetch-bytes", "2097152"], 2097152),
])
def test_the_partition_fetch_follows_idleness_unless_set_and_reaches_the_source_ddl(
        argv: list[str], fetch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from flink_jobs.common import sql
    from flink_jobs.ingest.pipeline import sql_params

    monkeypatch.delenv("ANEMOS_JOB_IDLE_TIMEOUT_S", raising=False)
    monkeypatch.delenv("ANEMOS_JOB_PARTITION_FETCH_BYTES", raising=False)
    settings, _ = parse([*NO_STATE, *argv])
    ddl = "\n".join(sql.load("flink/raw_source.sql", sql_params(settings)))
    assert f"'properties.max.partition.fetch.bytes' = '{fetch}'" in ddl


@pytest.mark.parametrize(("flag", "value"), [("--watermark-bound-s", "0"), ("--watermark-bound-s", "-1"),
                                             ("--idle-timeout-s", "-1"), ("--partition-fetch-bytes", "100")])
def test_an_out_of_range_setting_is_one_clear_error(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse([*NO_STATE, flag, value])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"python -m flink_jobs.ingest: error: {flag}: Input should be greater than")
    assert "Traceback" not in err


def test_the_checkpoint_pause_is_a_flag_and_a_negative_one_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse(NO_STATE)[0].checkpoint_min_pause_ms == 1_000
    assert parse([*NO_STATE, "--checkpoint-min-pause-ms", "0"])[0].checkpoint_min_pause_ms == 0
    with pytest.raises(SystemExit) as exited:
        parse([*NO_STATE, "--checkpoint-min-pause-ms", "-1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--checkpoint-min-pause-ms: Input should be greater than or equal to 0 (got -1)" in err, err


def test_idleness_is_off_by_default_and_a_timeout_comes_from_a_flag_or_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANEMOS_JOB_IDLE_TIMEOUT_S", raising=False)
    assert parse(NO_STATE)[0].idle_timeout_s == 0  # Flink's table.exec.source.idle-timeout of 0 ms: never idle
    assert parse([*NO_STATE, "--idle-timeout-s", "10"])[0].idle_timeout_s == 10
    monkeypatch.setenv("ANEMOS_JOB_IDLE_TIMEOUT_S", "45")
    assert parse(NO_STATE)[0].idle_timeout_s == 45
    assert parse([*NO_STATE, "--idle-timeout-s", "10"])[0].idle_timeout_s == 10


def test_a_start_without_the_tables_is_refused_naming_the_missing_ones(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A SQLite catalog stands in for the JDBC one on Postgres: the check only asks the catalog which tables exist."""
    from flink_jobs.ingest.__main__ import missing_tables
    from iceberg.catalog import ensure_table, open_catalog
    from iceberg.tables import ALL

    settings, _ = parse([*NO_STATE, "--namespace", "wind_t"])
    catalog = {"name": "anemos", "sqlalchemy_uri": f"sqlite:///{tmp_path / 'catalog.db'}",
               "warehouse": (tmp_path / "warehouse").as_uri()}
    settings = settings.model_copy(update={"catalog": catalog})
    assert missing_tables(settings) is not None  # no namespace yet
    for table in ALL[:-2]:
        ensure_table(open_catalog(catalog), table(), f"wind_t.{table().name}")
    said = missing_tables(settings)
    assert said is not None and said.startswith("2 of the job's 7 Iceberg tables do not exist")
    assert "(wind_t.late_readings, wind_t.rejected)" in said and "`anemos setup`" in said
    for table in ALL[-2:]:
        ensure_table(open_catalog(catalog), table(), f"wind_t.{table().name}")
    assert missing_tables(settings) is None


def _flink_run(monkeypatch: pytest.MonkeyPatch, said: str, code: int) -> list[list[str]]:
    """cluster.flink's subprocess.run, answering as `flink run` would: ``said`` to the log, exit ``code``."""
    import subprocess

    import cluster.flink

    calls: list[list[str]] = []

    def run(argv: list[str], stdout, **_kw):  # type: ignore[no-untyped-def]
        calls.append(argv)
        stdout.write(said.encode())
        stdout.flush()
        return subprocess.CompletedProcess(argv, code)

    monkeypatch.setattr(cluster.flink.subprocess, "run", run)
    # the class path of the resolved connector jars is not what these tests are about, and a fresh clone's
    # unit tier runs before anything resolves them (`bin/anemos test tests/unit` failed here on one)
    monkeypatch.setattr(cluster.flink, "hadoop_classpath", lambda _settings: "")
    return calls


def test_the_job_flags_reach_the_job_after_the_end_of_flinks_options(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Flink's parser takes a prefix of its own long options (--parallelism, --detach for --detached) unless "--"
    ends them: a bare `anemos cluster submit` then waited for the job's end. Checked for real against the cluster:
    it returns in 13 s, and `--parallelism 2` gives the job's operators 2."""
    from cluster.flink import FlinkCluster
    from stack.settings import StackSettings

    calls = _flink_run(monkeypatch, "JOB_ID " + "ab" * 16 + " restored_from=-\n", 0)
    assert FlinkCluster(StackSettings()).submit(["--parallelism", "2"], tmp_path / "submit.log") == "ab" * 16
    argv = calls[0]
    assert argv[argv.index("-pym"):] == ["-pym", "flink_jobs.ingest", "--", "--parallelism", "2", "--detach"]


def test_a_refused_submit_says_the_jobs_own_line_not_only_the_exit_code(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cluster.flink import ClusterError, FlinkCluster
    from stack.settings import StackSettings

    log = tmp_path / "submit.log"
    log.write_text("JOB_ID " + "cd" * 16 + " restored_from=-\npython -m flink_jobs.ingest: refused: an older run\n")
    _flink_run(monkeypatch, "python -m flink_jobs.ingest: refused: 7 of the job's 7 Iceberg tables do not exist (x)\n"
                            "org.apache.flink.client.program.ProgramAbortException: ...\n", 31)
    with pytest.raises(ClusterError) as failed:
        FlinkCluster(StackSettings()).submit([], log)
    # this submit's part of the log only: an earlier run's job id or refusal is not taken for this one's
    assert str(failed.value).startswith("flink run exited 31: python -m flink_jobs.ingest: refused: 7 of the job's 7")


@pytest.mark.parametrize(("field", "default", "from_env", "from_flag", "too_small", "error"), [
    ("hot_flush_ms", 200, 1000, 50, 0, "Input should be greater than or equal to 1 (got 0)"),
    ("managed_memory_mb", 1024, 2048, 512, 64, "Input should be greater than or equal to 128 (got 64)"),
])
def test_a_setting_comes_from_its_flag_over_the_environment_and_a_value_too_small_is_one_clear_error(
        field: str, default: int, from_env: int, from_flag: int, too_small: int, error: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    flag, variable = "--" + field.replace("_", "-"), "ANEMOS_JOB_" + field.upper()
    monkeypatch.delenv(variable, raising=False)
    assert getattr(parse(NO_STATE)[0], field) == default
    monkeypatch.setenv(variable, str(from_env))
    assert getattr(parse(NO_STATE)[0], field) == from_env
    assert getattr(parse([*NO_STATE, flag, str(from_flag)])[0], field) == from_flag
    with pytest.raises(SystemExit) as exited:
        parse([*NO_STATE, flag, str(too_small)])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{flag}: {error}" in err, err


def test_the_window_plan_is_the_checkpoints_own_unless_set_and_a_switch_on_restore_is_refused(
        tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from flink_jobs.common import checkpoints

    monkeypatch.delenv("ANEMOS_JOB_WINDOW_PLAN", raising=False)
    (tmp_path / "job-a" / "chk-3").mkdir(parents=True)
    (tmp_path / "job-a" / "chk-3" / "_metadata").write_bytes(b"x")
    restore = ["--checkpoint-dir", str(tmp_path), "--restore-from", "latest", "--fresh-start"]
    # checkpoints of a version before the plans: the direct plan's state
    settings, _ = parse(restore)
    assert settings.window_plan == "direct" and settings.restore_from is not None
    with pytest.raises(SystemExit) as exited:
        parse([*restore, "--window-plan", "cascade"])
    assert exited.value.code == 2
    assert "holds the direct window plan's state, not the cascade plan's: keep --window-plan direct" in \
        capsys.readouterr().err.strip().splitlines()[-1]
    checkpoints.record_window_plan(tmp_path, "cascade")
    assert parse(restore)[0].window_plan == "cascade"  # unset: the checkpoints' own
    monkeypatch.setenv("ANEMOS_JOB_WINDOW_PLAN", "direct")
    with pytest.raises(SystemExit):
        parse(restore)
    monkeypatch.delenv("ANEMOS_JOB_WINDOW_PLAN")
    # no state: any plan, cascade unless set
    fresh = ["--checkpoint-dir", str(tmp_path), *NO_STATE]
    assert parse(fresh)[0].window_plan == "cascade"
    assert parse([*fresh, "--window-plan", "direct"])[0].window_plan == "direct"
    with pytest.raises(SystemExit) as exited:
        parse([*fresh, "--window-plan", "tumbling"])
    assert exited.value.code == 2


@pytest.mark.parametrize("location", ["savepoint", "retained"])
def test_a_restore_from_elsewhere_takes_its_recorded_plan_and_an_unrecorded_one_needs_the_flag(
        location: str, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from flink_jobs.common import checkpoints

    monkeypatch.delenv("ANEMOS_JOB_WINDOW_PLAN", raising=False)
    # a savepoint (the record beside its _metadata), or a retained checkpoint of another deployment (<dir>/<job>/chk-N)
    state = tmp_path / "savepoints" / "savepoint-1a2b-3c4d" if location == "savepoint" else tmp_path / "old" / "job-b" / "chk-9"
    state.mkdir(parents=True)
    (state / "_metadata").write_bytes(b"x")
    restore = ["--checkpoint-dir", str(tmp_path / "new"), "--restore-from", state.as_uri(), "--fresh-start"]
    with pytest.raises(SystemExit) as exited:
        parse(restore)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"the window plan of {state.as_uri()} is not recorded" in err[0], err
    assert parse([*restore, "--window-plan", "direct"])[0].window_plan == "direct"  # the operator says which
    checkpoints.record_window_plan(state if location == "savepoint" else state.parent.parent, "direct")
    assert parse(restore)[0].window_plan == "direct"
    with pytest.raises(SystemExit) as exited:
        parse([*restore, "--window-plan", "cascade"])
    assert exited.value.code == 2
    assert "holds the direct window plan's state, not the cascade plan's" in capsys.readouterr().err
