"""Avro compatibility levels, checked with the Apache avro library."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType


class Level(StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"


def _can_read(reader: avro.schema.Schema, writer: avro.schema.Schema) -> tuple[bool, str]:
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    ok = result.compatibility is SchemaCompatibilityType.compatible
    return ok, "" if ok else "; ".join(sorted(str(m) for m in result.messages))


def check(level: Level, new: str, existing: Sequence[str]) -> list[str]:
    """Messages explaining why ``new`` breaks ``level`` against ``existing`` (oldest first)."""
    if level is Level.NONE or not existing:
        return []
    candidate = avro.schema.parse(new)
    transitive = level.endswith("_TRANSITIVE")
    against = existing if transitive else existing[-1:]
    problems: list[str] = []
    for i, old_text in enumerate(against):
        old = avro.schema.parse(old_text)
        directions = []
        if level.startswith(("BACKWARD", "FULL")):
            directions.append(("new schema cannot read data written with", candidate, old))
        if level.startswith(("FORWARD", "FULL")):
            directions.append(("old schema cannot read data written by the new one,", old, candidate))
        for label, reader, writer in directions:
            ok, why = _can_read(reader, writer)
            if not ok:
                problems.append(f"{label} version #{i + 1}: {why}")
    return problems
