"""An alert as subscribers see it: the JSON the stream job writes to the alerts topic, parsed once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from udfs import epoch

SEVERITIES = ("WARNING", "CRITICAL")


def to_ms(value: Any) -> int:
    """Flink's JSON timestamps ('2026-11-22 08:15:43.123Z') or epoch milliseconds."""
    if isinstance(value, (int, float)):
        return int(value)
    return epoch.millis(datetime.fromisoformat(str(value)))  # naive: UTC


@dataclass(frozen=True)
class AlertRecord:
    alert_id: str
    turbine_id: str
    site_id: str | None
    sensor_id: str
    rule: str
    status: str
    severity: str
    event_time_ms: int
    value: float | None
    evidence: str
    detected_at_ms: int

    @classmethod
    def from_json(cls, raw: bytes | str) -> "AlertRecord":
        d = json.loads(raw)
        return cls(d["alert_id"], d["turbine_id"], d.get("site_id"), d.get("sensor_id") or "", d["rule"], d["status"],
                   d["severity"], to_ms(d["event_time"]), d.get("value"), d.get("evidence") or "", to_ms(d["detected_at"]))

    def payload(self) -> dict[str, Any]:
        """The webhook body: the alert with ISO-8601 UTC times."""
        iso = lambda ms: datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds")  # noqa: E731
        return {"alert_id": self.alert_id, "turbine_id": self.turbine_id, "site_id": self.site_id, "sensor_id": self.sensor_id,
                "rule": self.rule, "status": self.status, "severity": self.severity, "event_time": iso(self.event_time_ms),
                "value": self.value, "evidence": self.evidence, "detected_at": iso(self.detected_at_ms)}

    def line(self) -> str:
        """One human-readable line."""
        when = datetime.fromtimestamp(self.event_time_ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        channel = f"/{self.sensor_id}" if self.sensor_id else ""
        value = f" value={self.value:.3f}" if self.value is not None else ""
        return f"{when}Z {self.severity:<8} {self.status:<7} {self.site_id or '-'}/{self.turbine_id}{channel} {self.rule}{value}  {self.evidence}"
