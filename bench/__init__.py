"""Benchmarks: each prints its figures and writes them to bench/results/<name>.json."""

import json
import os
import urllib.request
from typing import Any


def job_environment() -> dict[str, str]:
    """The ``ANEMOS_JOB_*`` settings the bench's job inherits, for the results file beside its command."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("ANEMOS_JOB_")}


def describe(doc: str | None) -> str:
    """A bench's ``--help`` description: its module docstring's first paragraph, on one line."""
    return (doc or "").split("\n\n")[0].replace("\n", " ")


def rest_json(base: str, path: str, timeout_s: float = 10.0) -> Any:
    """One GET of a Flink REST API (``base`` like http://127.0.0.1:8081), as parsed JSON."""
    with urllib.request.urlopen(base + path, timeout=timeout_s) as resp:
        return json.load(resp)
