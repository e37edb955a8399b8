"""What every CLI command shares: the --json option and one way to print a result."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]


def emit(data: Any, as_json: bool, human: str | Table) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    elif isinstance(human, str):
        Console().print(human, markup=False, highlight=False)  # ids and reasons may hold [brackets]
    else:
        Console().print(human)
