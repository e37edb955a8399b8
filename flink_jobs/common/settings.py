"""Settings of a Flink job: where the services are, checkpointing, jars."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from stack.settings import PROJECT_ROOT, StackSettings


class JobSettings(BaseSettings):
    """One object per job run; environment prefix ANEMOS_JOB_."""

    model_config = SettingsConfigDict(env_prefix="ANEMOS_JOB_", frozen=True, extra="ignore")

    job_name: str = "anemos-ingest"
    bootstrap_servers: str
    registry_url: str
    raw_topic: str = "telemetry.raw"
    dlq_topic: str = "telemetry.dlq"
    consumer_group: str = "anemos-ingest"
    readings_table: str = "wind.readings"
    catalog: dict[str, str]
    checkpoint_dir: Path
    checkpoint_interval_ms: int = 10_000
    parallelism: int = 1
    jars_dir: Path = PROJECT_ROOT / ".anemos" / "jars" / "flink"
    restore_from: str | None = Field(default=None, description="checkpoint or savepoint path to resume from")
    python_state_cache: int = 100_000
    kafka_transaction_timeout_ms: int = 900_000
    registry_password: SecretStr | None = None

    @classmethod
    def from_stack(cls, stack: StackSettings, **overrides: object) -> "JobSettings":
        from stack.manager import catalog_properties

        base: dict[str, object] = {
            "bootstrap_servers": stack.kafka_bootstrap,
            "registry_url": stack.registry_url,
            "catalog": catalog_properties(stack),
            "checkpoint_dir": stack.path("checkpoints", "ingest"),
            "jars_dir": stack.path("jars", "flink"),
        }
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)  # type: ignore[arg-type]
