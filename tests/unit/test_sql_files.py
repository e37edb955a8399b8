import pytest

from flink_jobs.common import sql

pytestmark = pytest.mark.unit


def test_placeholders_are_filled_and_quotes_escaped(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "x.sql").write_text("-- comment\nCREATE T WITH ('a' = '${s3_endpoint}');\nSELECT '${v}';\n")
    monkeypatch.setattr(sql, "SQL_DIR", tmp_path)
    out = sql.load("x.sql", {"s3_endpoint": "http://h:1", "v": "it's"})
    assert out == ["CREATE T WITH ('a' = 'http://h:1')", "SELECT 'it''s'"]


def test_missing_parameter_is_an_error(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "x.sql").write_text("SELECT '${nope}';")
    monkeypatch.setattr(sql, "SQL_DIR", tmp_path)
    with pytest.raises(KeyError, match="nope"):
        sql.load("x.sql", {})


def test_every_job_sql_file_loads_with_the_job_parameters() -> None:
    from flink_jobs.common.settings import JobSettings
    from flink_jobs.ingest.pipeline import sql_params
    from stack.settings import StackSettings

    # turbine_window.sql is loaded once per window size with these two more
    params = {**sql_params(JobSettings.from_stack(StackSettings())), "view": "turbine_agg_1m", "window_minutes": 1}
    for path in sorted(sql.SQL_DIR.glob("flink/*.sql")):
        statements = sql.load(f"flink/{path.name}", params)
        assert statements and all("${" not in s for s in statements), path.name
