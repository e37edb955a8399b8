import json

import pytest

from stack.registry.compat import Level, check

pytestmark = pytest.mark.unit


def rec(*fields: dict[str, object]) -> str:
    return json.dumps({"type": "record", "name": "R", "fields": list(fields)})


V1 = rec({"name": "a", "type": "long"})
V2 = rec({"name": "a", "type": "long"}, {"name": "b", "type": "string", "default": ""})
V3_DROPS_DEFAULT = rec({"name": "a", "type": "long"}, {"name": "c", "type": "string"})


def test_adding_a_field_with_default_is_backward_compatible() -> None:
    assert check(Level.BACKWARD_TRANSITIVE, V2, [V1]) == []


def test_adding_a_required_field_is_refused() -> None:
    assert check(Level.BACKWARD_TRANSITIVE, V3_DROPS_DEFAULT, [V1, V2])


def test_transitive_checks_every_version_not_just_the_last() -> None:
    # V4 can read V3 data but not V1 data: BACKWARD accepts it, BACKWARD_TRANSITIVE does not
    v3 = rec({"name": "a", "type": "long"}, {"name": "c", "type": "string", "default": "x"})
    v4 = rec({"name": "a", "type": "long"}, {"name": "c", "type": "string"})
    assert check(Level.BACKWARD, v4, [V1, v3]) == []
    assert check(Level.BACKWARD_TRANSITIVE, v4, [V1, v3])


def test_none_accepts_anything() -> None:
    assert check(Level.NONE, rec({"name": "z", "type": "int"}), [V1]) == []
