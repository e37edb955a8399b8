import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def test_udfs_import_neither_pyflink_nor_pyspark() -> None:
    code = (
        "import sys, udfs.identity, udfs.records, udfs.validation, udfs.wire, udfs.channels, udfs.windows, udfs.power_curve, udfs.anomaly, udfs.freeze, udfs.gate, udfs.epoch;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('pyflink', 'pyspark')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bad_command_line_is_one_line_and_non_zero() -> None:
    result = subprocess.run([sys.executable, "-m", "anemos", "stack", "bogus"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["anemos: error: No such command 'bogus'."]


def test_every_command_has_help() -> None:
    for argv in (["--help"], ["stack", "--help"], ["stack", "up", "--help"], ["stack", "status", "--help"],
                 ["stack", "down", "--help"], ["demo", "--help"], ["setup", "--help"], ["bridge", "--help"], ["test", "--help"],
                 ["simulate", "--help"], ["replay", "--help"], ["agent", "--help"], ["certs", "--help"], ["certs", "init", "--help"],
                 ["certs", "edge", "--help"], ["ingest", "--help"], ["sinks", "--help"], ["alerts", "--help"],
                 ["alerts", "watch", "--help"], ["alerts", "notify", "--help"], ["alerts", "ack", "--help"],
                 ["alerts", "list", "--help"], ["freeze", "--help"], ["freeze", "monitor", "--help"], ["freeze", "status", "--help"],
                 ["gate", "--help"], ["gate", "serve", "--help"], ["command", "--help"], ["command", "request", "--help"],
                 ["command", "approve", "--help"], ["command", "audit", "--help"], ["lkg", "--help"],
                 ["maintain", "--help"], ["cluster", "--help"], ["cluster", "up", "--help"], ["cluster", "down", "--help"],
                 ["cluster", "status", "--help"], ["cluster", "submit", "--help"], ["cluster", "kill-taskmanager", "--help"],
                 ["cluster", "stop", "--help"], ["cluster", "committers", "--help"], ["repair-kafka", "--help"],
                 ["restate", "--help"], ["chaos", "--help"]):
        result = subprocess.run([sys.executable, "-m", "anemos", *argv], capture_output=True, text=True)
        assert result.returncode == 0 and "Usage" in result.stdout, argv


def test_a_failing_command_exits_non_zero() -> None:
    # `anemos test` must pass pytest's failure on, or CI would land a red suite
    result = subprocess.run([sys.executable, "-m", "anemos", "test", "tests/unit/test_layering.py", "-k", "no_such_test_xyz", "-q"],
                            capture_output=True, text=True)
    assert result.returncode == 5, result.stdout[-500:]
