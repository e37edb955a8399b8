"""The end-to-end run: stack up, set up, bridge and job started, readings sent, every sink checked."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from rich.progress import Progress

from anemos import platform
from anemos.observe import turbine_outputs
from anemos.runner import IngestJob, wait_for_rows
from edge_bridge import registry, simulator
from edge_bridge.certs import channel_credentials, ensure_dev_pki
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from flink_jobs.common import checkpoints
from stack import manager
from stack.settings import StackSettings

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    edge_id: str
    sent: int
    acknowledged: int
    rejected: int
    stored_rows: int
    stored_distinct: int
    missing: int
    unexpected: int
    turbines: int
    postgres_1m_rows: int
    postgres_10m_rows: int
    redis_lkg_turbines: int
    seconds: float

    @property
    def ok(self) -> bool:
        exactly_once = self.stored_rows == self.stored_distinct == self.acknowledged and self.missing == 0 and self.unexpected == 0
        return exactly_once and self.postgres_1m_rows > 0 and self.redis_lkg_turbines == self.turbines

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exactly_once": self.ok}


OUTPUTS_WITHIN_S = 120.0


def run(stack: StackSettings, readings: int, turbines: int, seed: int, timeout_s: float, quiet: bool = False) -> DemoResult:
    started = time.monotonic()
    manager.up(stack)
    platform.ensure(stack)
    edge_id = f"demo-{int(time.time())}"
    sites, fleet = simulator.small_fleet(seed, turbines, edge_id)
    registry.register(stack.postgres_dsn, sites, fleet)
    pki = ensure_dev_pki(stack.path("certs"))
    credentials = channel_credentials(pki.ca.cert, pki.edge(edge_id))
    bridge = Bridge(BridgeSettings.from_stack(stack)).start()
    ckpt_dir = stack.path("checkpoints", "ingest")
    job = IngestJob(stack, platform.Names(), ckpt_dir, consumer_group="anemos-ingest")
    job.start(restore_latest=checkpoints.latest(ckpt_dir) is not None)
    try:
        job.wait_submitted()
        with Progress(disable=quiet, transient=True) as progress:
            task = progress.add_task(f"sending {readings} readings via gRPC", total=readings)
            report = simulator.send(
                stack.bridge_address, readings, turbines=turbines, seed=seed, edge_id=edge_id,
                on_batch=lambda k: progress.advance(task, k), credentials=credentials,
            )
        ids = wait_for_rows(stack, "wind.readings", report.accepted, edge_id=edge_id, timeout_s=timeout_s, settle_s=6)
        # window rows and last-known-good follow the watermark, which trails the raw rows: wait for them too
        turbine_ids = {t.turbine_id for t in fleet}
        deadline = time.monotonic() + OUTPUTS_WITHIN_S
        outputs = turbine_outputs(stack, platform.Names(), turbine_ids)
        while (outputs["postgres_1m_rows"] == 0 or outputs["redis_lkg_turbines"] < len(turbine_ids)) and time.monotonic() < deadline:
            time.sleep(2)
            outputs = turbine_outputs(stack, platform.Names(), turbine_ids)
    finally:
        job.stop()
        bridge.stop()
    stored = set(ids)
    return DemoResult(
        edge_id=edge_id, sent=report.sent, acknowledged=report.accepted, rejected=report.rejected,
        stored_rows=len(ids), stored_distinct=len(stored), missing=len(report.accepted_ids - stored),
        unexpected=len(stored - report.accepted_ids), turbines=len(fleet), **outputs,
        seconds=round(time.monotonic() - started, 1),
    )
