"""Accepted commands on the ``commands`` topic: one record per turbine, keyed by its edge gateway.

An edge agent reads its own gateway's records (see ``edge_bridge.commands``), executes them and
acknowledges through ``ControlService.AckCommand``. The gate answers ACCEPTED only after Kafka
has acknowledged every record of the command.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, Producer

from safety import SafetyError
from safety.book import Asset
from udfs.gate import Request


class PublishError(SafetyError):
    """Kafka did not acknowledge a command's records."""


def command_record(command_id: str, req: Request, asset: Asset, approved_by: str | None, issued_at_ms: int) -> dict[str, Any]:
    return {
        "command_id": command_id, "turbine_id": asset.turbine_id, "site_id": asset.site_id, "edge_id": asset.edge_id,
        "command": req.command.value, "setpoint": req.setpoint, "requested_by": req.requested_by,
        "approved_by": approved_by, "reason": req.reason, "issued_at_ms": issued_at_ms,
    }


class CommandPublisher:
    def __init__(self, bootstrap: str, topic: str, timeout_s: float = 15.0) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                                   "linger.ms": 0, "message.timeout.ms": int(timeout_s * 1000)})
        self._topic, self._timeout_s = topic, timeout_s

    def publish(self, command_id: str, req: Request, assets: Sequence[Asset], approved_by: str | None) -> int:
        now = int(time.time() * 1000)
        errors: list[KafkaError] = []

        def delivered(err: KafkaError | None, _msg: object) -> None:
            if err is not None:
                errors.append(err)

        for asset in assets:
            record = command_record(command_id, req, asset, approved_by, now)
            self._producer.produce(self._topic, key=asset.edge_id, value=json.dumps(record), on_delivery=delivered)
        left = self._producer.flush(self._timeout_s)
        if left or errors:
            raise PublishError(f"Kafka did not acknowledge {left + len(errors)} of {len(assets)} command records: {errors[:1]}")
        return len(assets)

    def close(self) -> None:
        self._producer.flush(self._timeout_s)
