"""The short alias that keeps RocksDB's log file names under 255 bytes however deep the clone is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stack.shortpath import short_alias

pytestmark = pytest.mark.unit


def test_a_deep_directory_gets_a_short_alias_to_the_same_place(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120) / "anemos" / ".anemos" / "tmp" / "cluster"
    alias = short_alias(deep, root=tmp_path)
    assert alias.parent == tmp_path and len(alias.name) == len("anemos-") + 8
    (alias / "tm-2").mkdir()
    assert (deep / "tm-2").is_dir()  # written through the alias, stored in the target
    assert short_alias(deep, root=tmp_path) == alias  # stable: the same target, the same alias


def test_a_stale_alias_is_repaired(tmp_path: Path) -> None:
    target = tmp_path / "work"
    alias = short_alias(target, root=tmp_path)
    alias.unlink()
    alias.symlink_to(tmp_path / "elsewhere")
    assert short_alias(target, root=tmp_path) == alias
    assert Path(os.readlink(alias)) == target.resolve()


def test_where_no_alias_can_be_made_the_long_path_is_used(tmp_path: Path) -> None:
    target = tmp_path / "work"
    blocked = short_alias(target, root=tmp_path)
    blocked.unlink()
    blocked.mkdir()
    (blocked / "in-the-way").write_text("x")  # a real, non-empty directory with the alias's name
    assert short_alias(target, root=tmp_path) == target.resolve()
