"""Settings of the edge bridge (environment prefix ANEMOS_BRIDGE_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stack.settings import StackSettings, file_sources


class BridgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANEMOS_BRIDGE_", frozen=True, extra="ignore")

    listen: str
    bootstrap_servers: str
    registry_url: str
    raw_topic: str = "telemetry.raw"
    dlq_topic: str = "telemetry.dlq"
    max_batch_readings: int = 10_000
    max_message_bytes: int = 8 * 1024 * 1024
    rate_limit_readings_per_s: float = 500_000.0
    rate_limit_burst: float = 1_000_000.0
    ack_timeout_s: float = 30.0
    max_workers: int = 32
    # mTLS by default; plaintext means no gateway identity, hence no per-turbine
    # authorization: for loopback development only, and only when asked for
    plaintext: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    # turbine registry used to authorize gateways (Postgres DSN)
    registry_dsn: str | None = None
    metrics_port: int | None = None
    # heartbeats to the raw topic's quiet partitions (edge_bridge/heartbeat.py); 0 turns them off
    heartbeat_interval_s: float = Field(default=1.0, ge=0)
    heartbeat_quiet_s: float = Field(default=2.0, gt=0, description="a partition without a record this long gets heartbeats")

    settings_customise_sources = file_sources("bridge")

    @model_validator(mode="after")
    def _tls_complete(self) -> "BridgeSettings":
        if not self.plaintext and not (self.tls_cert and self.tls_key and self.tls_client_ca and self.registry_dsn):
            raise ValueError("mTLS needs tls_cert, tls_key, tls_client_ca and registry_dsn (or set plaintext for local use)")
        return self

    @classmethod
    def from_stack(cls, stack: StackSettings, **overrides: object) -> "BridgeSettings":
        """Local settings: the stack's services and the development PKI in <state>/certs."""
        from edge_bridge.certs import dev_server_tls

        base: dict[str, object] = {
            "listen": stack.bridge_address, "bootstrap_servers": stack.kafka_bootstrap, "registry_url": stack.registry_url,
            "registry_dsn": stack.postgres_dsn,
        }
        if not overrides.get("plaintext"):
            base.update(dev_server_tls(stack.path("certs")))
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)  # type: ignore[arg-type]
