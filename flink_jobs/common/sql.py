"""Load SQL files from sql/ and fill ${name} placeholders from settings, never from input."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_PLACEHOLDER = re.compile(r"\$\{([a-z][a-z0-9_]*)\}")


def _literal(value: str) -> str:
    # values land inside single-quoted SQL strings: double any quote
    return str(value).replace("'", "''")


def load(relative: str, params: Mapping[str, object]) -> list[str]:
    """Statements of ``sql/<relative>`` (split on ';' at line end) with placeholders filled."""
    text = (SQL_DIR / relative).read_text()

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in params:
            raise KeyError(f"{relative} needs parameter {name!r}")
        return _literal(str(params[name]))

    text = _PLACEHOLDER.sub(fill, text)
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]
