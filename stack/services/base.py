"""What every local service provides to the stack manager."""

from __future__ import annotations

import abc
from typing import Any

from stack import process
from stack.settings import StackSettings


class Service(abc.ABC):
    """A service the stack installs, starts by recorded pid, probes and stops."""

    name: str

    def __init__(self, settings: StackSettings) -> None:
        self.s = settings

    @property
    def data_dir(self):  # type: ignore[no-untyped-def]
        return self.s.path("data", self.name)

    @property
    def log_path(self):  # type: ignore[no-untyped-def]
        return self.s.path("logs", f"{self.name}.log")

    def ports(self) -> list[int]:
        """The loopback ports this service listens on."""
        return []

    def pid(self) -> int | None:
        return process.read_pid(self.s.state_dir, self.name)

    @abc.abstractmethod
    def install(self) -> None:
        """Fetch binaries or jars if missing."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start the process (only called when it is not running)."""

    @abc.abstractmethod
    def ready(self) -> bool:
        """True when the service answers real requests."""

    @abc.abstractmethod
    def endpoints(self) -> dict[str, Any]:
        """What clients need to reach it."""

    def after_start(self) -> None:
        """Create buckets, databases and the like once the service answers."""

    def wait_ready(self) -> None:
        process.wait_until(
            self.name,
            self.ready,
            timeout_s=self.s.start_timeout_s,
            alive=lambda: self.pid() is not None,
            log_path=self.log_path,
        )

    def stop(self) -> bool:
        return process.stop(self.s.state_dir, self.name)
