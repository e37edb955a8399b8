"""Settings of the edge bridge (environment prefix ANEMOS_BRIDGE_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from stack.settings import StackSettings


class BridgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANEMOS_BRIDGE_", frozen=True, extra="ignore")

    listen: str
    bootstrap_servers: str
    registry_url: str
    raw_topic: str = "telemetry.raw"
    dlq_topic: str = "telemetry.dlq"
    max_batch_readings: int = 10_000
    ack_timeout_s: float = 30.0
    max_workers: int = 16
    # plaintext is for loopback development only; mTLS arrives with the security issue
    plaintext: bool = True

    @classmethod
    def from_stack(cls, stack: StackSettings, **overrides: object) -> "BridgeSettings":
        base: dict[str, object] = {
            "listen": stack.bridge_address, "bootstrap_servers": stack.kafka_bootstrap, "registry_url": stack.registry_url,
        }
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)  # type: ignore[arg-type]
