"""Bring the whole local stack up, down, and report its state."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from stack import install, process
from stack.errors import StartError
from stack.services import ALL, Service
from stack.settings import PROJECT_ROOT, StackSettings

log = logging.getLogger(__name__)


def services(settings: StackSettings) -> list[Service]:
    return [cls(settings) for cls in ALL]


def up(settings: StackSettings, on_step: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Install what is missing and start every service not already running. Idempotent."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    if on_step:
        on_step("flink jars")
    install.maven_fetch(
        PROJECT_ROOT / "flink_jobs" / "pom.xml", "anemos.jars.dir", settings.path("jars", "flink"),
        "iceberg-flink-runtime-2.0-1.11.0.jar",
    )
    for svc in services(settings):
        if on_step:
            on_step(svc.name)
        svc.install()
        if svc.pid() is None:
            taken = [p for p in svc.ports() if process.port_open(settings.host, p)]
            if taken:
                raise StartError(
                    f"{svc.name}: port {', '.join(map(str, taken))} on {settings.host} is in use by a process this stack "
                    f"did not start (another stack?); stop it or set ANEMOS_STACK_*_PORT"
                )
            svc.start()
        else:
            log.info("%s already running (pid %d)", svc.name, svc.pid())
        svc.wait_ready()
        svc.after_start()
    return status(settings)


def down(settings: StackSettings) -> list[str]:
    """Stop, in reverse order, only the processes this stack recorded. Returns those stopped."""
    stopped = []
    for svc in reversed(services(settings)):
        if svc.stop():
            stopped.append(svc.name)
    return stopped


def status(settings: StackSettings) -> dict[str, Any]:
    """Every endpoint and credential, and whether each service runs and answers."""
    out: dict[str, Any] = {"state_dir": str(settings.state_dir), "services": {}}
    for svc in services(settings):
        pid = svc.pid()
        answering = False
        if pid is not None:
            try:
                answering = svc.ready()
            except Exception:  # noqa: BLE001 - a failed probe is reported as not answering
                answering = False
        out["services"][svc.name] = {"pid": pid, "running": pid is not None, "answering": answering, **svc.endpoints()}
    out["iceberg_catalog"] = catalog_properties(settings)
    out["edge_bridge"] = {"address": settings.bridge_address}
    out["command_gate"] = {"address": settings.gate_address}
    return out


def catalog_properties(settings: StackSettings) -> dict[str, str]:
    """The Iceberg JDBC catalog, as both pyiceberg and Flink's Iceberg catalog read it."""
    return {
        "name": settings.catalog_name,
        "type": "jdbc",
        "uri": settings.jdbc_url,
        "sqlalchemy_uri": settings.postgres_dsn.replace("postgresql://", "postgresql+psycopg2://"),
        "jdbc.user": settings.postgres_user,
        "jdbc.password": settings.postgres_password.get_secret_value(),
        "warehouse": settings.warehouse,
        "s3.endpoint": settings.s3_endpoint,
        "s3.access-key-id": settings.s3_access_key,
        "s3.secret-access-key": settings.s3_secret_key.get_secret_value(),
        "s3.region": settings.s3_region,
        "s3.path-style-access": "true",
    }
