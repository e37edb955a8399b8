import math

import pytest

from udfs.validation import Limits, validate

pytestmark = pytest.mark.unit

NOW = 1_800_000_000_000
LIMITS = Limits(max_age_ms=3_600_000, max_skew_ms=60_000)


def check(turbine: str = "T1", sensor: str = "s1", kind: str = "WTUR.W", ts: int = NOW, value: float = 100.0) -> str | None:
    bad = validate(turbine, sensor, kind, ts, value, NOW, LIMITS)
    return None if bad is None else bad.reason_code


def test_good_reading_passes() -> None:
    assert check() is None


@pytest.mark.parametrize(
    "turbine", ["", "T1'; DROP TABLE x;--", "../x", "\r\nFLUSHALL", "T\x001", "Т1", "T" * 65, "-T1"]
)
def test_hostile_turbine_ids_are_refused(turbine: str) -> None:
    assert check(turbine=turbine) == "BAD_TURBINE_ID"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"sensor": "a/b"}, "BAD_SENSOR_ID"),
        ({"kind": "Power"}, "UNKNOWN_SENSOR_TYPE"),
        ({"value": math.nan}, "VALUE_NOT_FINITE"),
        ({"value": math.inf}, "VALUE_NOT_FINITE"),
        ({"value": 1e9}, "VALUE_OUT_OF_RANGE"),
        ({"ts": NOW - 3_600_001}, "TIMESTAMP_TOO_OLD"),
        ({"ts": 0}, "TIMESTAMP_TOO_OLD"),
        ({"ts": NOW + 60_001}, "TIMESTAMP_IN_FUTURE"),
    ],
)
def test_each_reason(kwargs: dict[str, object], reason: str) -> None:
    assert check(**kwargs) == reason  # type: ignore[arg-type]


def test_bounds_are_inclusive() -> None:
    assert check(ts=NOW - 3_600_000) is None
    assert check(ts=NOW + 60_000) is None
