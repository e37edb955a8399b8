"""Settings of the local stack: ports, credentials and the state folder.

Flags override environment variables (prefix ``ANEMOS_STACK_``), which override the
optional TOML file named by ``ANEMOS_CONFIG`` (table ``[stack]``), which override defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class TomlTable(PydanticBaseSettingsSource):
    """Reads one table of the file named by ANEMOS_CONFIG, when that variable is set."""

    def __init__(self, settings_cls: type[BaseSettings], table: str) -> None:
        super().__init__(settings_cls)
        path = os.environ.get("ANEMOS_CONFIG")
        self._data: dict[str, Any] = {}
        if path:
            with open(path, "rb") as fh:
                self._data = dict(tomllib.load(fh).get(table, {}))

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


def file_sources(table: str) -> classmethod:  # type: ignore[type-arg]
    """The settings-sources hook shared by every settings class: flags (init), then
    environment variables, then table ``[table]`` of the ANEMOS_CONFIG file."""

    def customise(
        cls: type[BaseSettings],
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlTable(settings_cls, table))

    return classmethod(customise)


class StackSettings(BaseSettings):
    """Where the local services listen and how to reach them."""

    model_config = SettingsConfigDict(env_prefix="ANEMOS_STACK_", frozen=True, extra="ignore")

    state_dir: Path = Field(default=PROJECT_ROOT / ".anemos", description="data, logs, pids, jars")
    host: str = "127.0.0.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    registry_port: int = 18081
    s3_port: int = 19000
    postgres_port: int = 15432
    redis_port: int = 16379
    bridge_port: int = 50051
    gate_port: int = 50061
    s3_access_key: str = "anemos"
    s3_secret_key: SecretStr = SecretStr("anemos-local-secret")
    s3_bucket: str = "anemos-warehouse"
    s3_region: str = "us-east-1"
    postgres_user: str = "anemos"
    postgres_password: SecretStr = SecretStr("anemos-local")
    postgres_db: str = "anemos"
    catalog_name: str = "anemos"
    kafka_heap: str = "768m"
    registry_heap: str = "384m"
    s3_heap: str = "256m"
    start_timeout_s: float = 180.0

    settings_customise_sources = file_sources("stack")

    # derived locations -------------------------------------------------------------
    def path(self, *parts: str) -> Path:
        return self.state_dir.joinpath(*parts)

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def registry_url(self) -> str:
        """Confluent-compatible API root of the registry."""
        return f"http://{self.host}:{self.registry_port}/apis/ccompat/v7"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self.host}:{self.s3_port}"

    @property
    def postgres_dsn(self) -> str:
        pw = self.postgres_password.get_secret_value()
        return f"postgresql://{self.postgres_user}:{pw}@{self.host}:{self.postgres_port}/{self.postgres_db}"

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.postgres_port}/{self.postgres_db}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis_port}/0"

    @property
    def warehouse(self) -> str:
        return f"s3://{self.s3_bucket}/warehouse"

    @property
    def bridge_address(self) -> str:
        return f"{self.host}:{self.bridge_port}"

    @property
    def gate_address(self) -> str:
        return f"{self.host}:{self.gate_port}"
