"""The Confluent-compatible schema registry (stack/registry), schemas kept in Postgres."""

from __future__ import annotations

import sys
from typing import Any

import httpx

from stack import process
from stack.services.base import Service
from stack.settings import PROJECT_ROOT


class SchemaRegistry(Service):
    name = "registry"

    def ports(self) -> list[int]:
        return [self.s.registry_port]

    def install(self) -> None:
        """Nothing to fetch: it is Python code of this project."""

    def start(self) -> None:
        argv = [
            sys.executable, "-m", "stack.registry.server", "--host", self.s.host, "--port", str(self.s.registry_port),
            "--dsn", self.s.postgres_dsn, "--default-compatibility", "BACKWARD_TRANSITIVE",
        ]
        process.spawn(self.s.state_dir, self.name, argv, cwd=PROJECT_ROOT, env={"PYTHONPATH": str(PROJECT_ROOT)})

    def ready(self) -> bool:
        r = httpx.get(f"{self.s.registry_url}/subjects", timeout=2)
        return r.status_code == 200

    def endpoints(self) -> dict[str, Any]:
        return {"url": self.s.registry_url, "default_compatibility": "BACKWARD_TRANSITIVE"}
