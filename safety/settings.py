"""Settings of the freeze monitor and the command gate (environment prefix ANEMOS_SAFETY_, file table [safety])."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from stack.settings import StackSettings, file_sources
from udfs.freeze import Thresholds
from udfs.gate import Policy


_T, _P = Thresholds(), Policy()  # the defaults live with the rules


class SafetySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANEMOS_SAFETY_", frozen=True, extra="ignore")

    bootstrap_servers: str
    postgres_dsn: str
    redis_url: str
    redis_prefix: str = Field(default="anemos", description="the stream job's Redis prefix: its last-known-good lives there")
    raw_topic: str = "telemetry.raw"
    job_consumer_group: str = Field(default="anemos-ingest", description="the Flink job's group: its lag is our lag")
    commands_topic: str = "commands"
    freezes_topic: str = "safety.freezes"
    # the monitor
    interval_s: float = Field(default=5.0, description="seconds between two looks")
    heartbeat_ttl_s: float = Field(default=30.0, description="the gate treats a monitor silent this long as blind")
    freeze_lag_records: int = _T.freeze_lag_records
    thaw_lag_records: int = _T.thaw_lag_records
    freeze_gap_s: float = _T.freeze_gap_ms / 1000
    thaw_gap_s: float = _T.thaw_gap_ms / 1000
    freeze_silence_s: float = _T.freeze_silence_ms / 1000
    thaw_silence_s: float = _T.thaw_silence_ms / 1000
    freeze_site_share: float = _T.freeze_site_share
    thaw_site_share: float = _T.thaw_site_share
    thaw_checks: int = _T.thaw_checks
    # the gate
    listen: str = "127.0.0.1:50061"
    plaintext: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    max_lkg_age_s: float = _P.max_lkg_age_ms / 1000
    high_impact_curtail_share: float = _P.high_impact_curtail_share
    approval_ttl_s: float = _P.approval_ttl_ms / 1000

    settings_customise_sources = file_sources("safety")

    def thresholds(self) -> Thresholds:
        return Thresholds(
            freeze_lag_records=self.freeze_lag_records, thaw_lag_records=self.thaw_lag_records,
            freeze_gap_ms=int(self.freeze_gap_s * 1000), thaw_gap_ms=int(self.thaw_gap_s * 1000),
            freeze_silence_ms=int(self.freeze_silence_s * 1000), thaw_silence_ms=int(self.thaw_silence_s * 1000),
            freeze_site_share=self.freeze_site_share, thaw_site_share=self.thaw_site_share, thaw_checks=self.thaw_checks,
        )

    def policy(self) -> Policy:
        return Policy(max_lkg_age_ms=int(self.max_lkg_age_s * 1000), high_impact_curtail_share=self.high_impact_curtail_share,
                      approval_ttl_ms=int(self.approval_ttl_s * 1000))

    @classmethod
    def from_stack(cls, stack: StackSettings, **overrides: object) -> "SafetySettings":
        """Local settings: the stack's services, and the development PKI for the gate's mTLS."""
        base: dict[str, object] = {
            "bootstrap_servers": stack.kafka_bootstrap, "postgres_dsn": stack.postgres_dsn, "redis_url": stack.redis_url,
            "listen": stack.gate_address,
        }
        if not overrides.get("plaintext"):
            from edge_bridge.certs import dev_server_tls

            base.update(dev_server_tls(stack.path("certs")))
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)  # type: ignore[arg-type]
