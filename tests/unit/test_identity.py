import re

import pytest

from udfs.identity import msg_id

pytestmark = pytest.mark.unit


def test_msg_id_is_deterministic_hex() -> None:
    a = msg_id("T1", "WTUR.W.1", 1_700_000_000_000)
    assert a == msg_id("T1", "WTUR.W.1", 1_700_000_000_000)
    assert re.fullmatch(r"[0-9a-f]{32}", a)


@pytest.mark.parametrize(
    "other", [("T2", "WTUR.W.1", 1_700_000_000_000), ("T1", "WTUR.W.2", 1_700_000_000_000), ("T1", "WTUR.W.1", 1_700_000_000_001)]
)
def test_msg_id_changes_with_each_part(other: tuple[str, str, int]) -> None:
    assert msg_id(*other) != msg_id("T1", "WTUR.W.1", 1_700_000_000_000)


def test_concatenation_cannot_collide() -> None:
    assert msg_id("T1", "1.x", 5) != msg_id("T11", ".x", 5)
