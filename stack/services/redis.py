"""Redis from Debian's redis-server, append-only file in the state folder."""

from __future__ import annotations

import shutil
from typing import Any

import redis

from stack import install, process
from stack.services.base import Service


class Redis(Service):
    name = "redis"

    def ports(self) -> list[int]:
        return [self.s.redis_port]

    def install(self) -> None:
        install.apt_install("redis-server", "redis-server")

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        binary = shutil.which("redis-server")
        assert binary is not None
        argv = [
            binary, "--bind", self.s.host, "--port", str(self.s.redis_port), "--dir", str(self.data_dir),
            "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no",
            "--protected-mode", "yes", "--save", "60 1",
        ]
        process.spawn(self.s.state_dir, self.name, argv)

    def ready(self) -> bool:
        client = redis.Redis.from_url(self.s.redis_url, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def endpoints(self) -> dict[str, Any]:
        return {"url": self.s.redis_url}
