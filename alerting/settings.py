"""Settings of the alert notifier (environment prefix ANEMOS_ALERTS_, file table [alerts])."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from stack.settings import StackSettings, file_sources


class AlertSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANEMOS_ALERTS_", frozen=True, extra="ignore")

    bootstrap_servers: str
    postgres_dsn: str
    alerts_topic: str = "alerts"
    group: str = Field(default="anemos-alert-notifier", description="consumer group: its offsets are the notifier's progress")
    webhooks: tuple[str, ...] = Field(default=(), description="HTTP endpoints every alert is POSTed to")
    max_attempts: int = 6
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    timeout_s: float = 10.0
    signing_secret: SecretStr | None = Field(default=None, description="HMAC-SHA256 key for X-Anemos-Signature")

    settings_customise_sources = file_sources("alerts")

    @classmethod
    def from_stack(cls, stack: StackSettings, **overrides: object) -> "AlertSettings":
        base: dict[str, object] = {"bootstrap_servers": stack.kafka_bootstrap, "postgres_dsn": stack.postgres_dsn}
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)  # type: ignore[arg-type]
