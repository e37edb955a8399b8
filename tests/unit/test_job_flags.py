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
