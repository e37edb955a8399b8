"""Settings of a Flink job: where the services are, checkpointing, jars."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from flink_jobs.common.checkpoints import NEW_DEPLOYMENT_PLAN
from stack.settings import PROJECT_ROOT, StackSettings


def flink_conf_items(items: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings (the --flink-conf flags) as a dict; ValueError names the first one that is not."""
    bad = [item for item in items if "=" not in item.strip("=")]
    if bad:
        raise ValueError(f"--flink-conf takes KEY=VALUE, not {bad[0]!r}")
    return dict(item.split("=", 1) for item in items)


class JobSettings(BaseSettings):
    """One object per job run; environment prefix ANEMOS_JOB_."""

    model_config = SettingsConfigDict(env_prefix="ANEMOS_JOB_", frozen=True, extra="ignore")

    job_name: str = "anemos-ingest"
    bootstrap_servers: str
    registry_url: str
    raw_topic: str = "telemetry.raw"
    dlq_topic: str = "telemetry.dlq"
    aggregates_topic: str = "telemetry.aggregates"
    alerts_topic: str = "alerts"
    consumer_group: str = "anemos-ingest"
    namespace: str = Field(default="wind", description="Iceberg namespace of the job's tables")
    postgres_dsn: str
    redis_url: str
    redis_prefix: str = "anemos"
    # event time
    watermark_bound_s: float = Field(default=5.0, ge=0.001, le=3600,
                                     description="bounded out-of-orderness of telemetry.raw, in seconds (millisecond steps)")
    # off (0) by default: the bridge's heartbeats keep a partition without turbines at the fleet's event time,
    # so a partition falls silent only when no bridge or no broker is there. Then idleness is what does harm:
    # after the outage the first partition to read again sets the watermark alone, past on-time readings of
    # the others (judged late, dropped by windows, or seen by the rules behind their watermark). Off, an outage
    # of any length is waited out. Set it for a topic that other producers write without heartbeats.
    idle_timeout_s: int = Field(default=0, ge=0,
                                description="a partition with no record (reading or heartbeat) this long stops holding "
                                            "the watermark; 0: never (the bridge's heartbeats keep quiet ones moving)")
    # None: 1 MiB (the Kafka consumer's own default) with idleness off, 64 KiB with it on. The consumer fetches
    # once per round trip per broker and a fetch takes about 200 ms under the job's load, so the size bounds
    # each partition's rate: 64 KiB (about 440 readings) held a backlog drain to about 6,000 readings/s and
    # fell as partitions ran dry; 1 MiB drains at about 10,000 (bench/results/experiments/fetch_1mb_*).
    # With idleness on, a big fetch of one partition keeps the others waiting their turn long enough to be
    # taken for idle, and their first readings come in late (tests/flink/test_catchup_lateness.py).
    partition_fetch_bytes: int | None = Field(
        default=None, ge=1024,
        description="most bytes fetched from one partition of telemetry.raw per request (default 1 MiB with "
                    "idleness off, 64 KiB with an idle timeout)")
    sample_interval_ms: int = Field(default=1_000, description="sampling interval of a channel: the coverage base")
    # per-turbine state
    dedupe_ttl_ms: int = Field(default=48 * 3600 * 1000, description="msg_id memory: at least the edge's retry horizon")
    loss_after_ms: int = Field(default=120_000, description="event-time silence before a telemetry_loss alert")
    registry_refresh_s: float = 30.0
    # windows (pipeline.create_windows): the same rows either way; their state differs, so a job restores only
    # the plan its checkpoints were made with (flink_jobs.ingest.__main__.with_window_plan; None: the plan of the
    # state restored, cascade without state). "direct" is the plan of every version's state before 2026-12-07;
    # "cascade" kept the window threads at about 0.10 cores over 20 live minutes at 4,968 readings/s where
    # "direct" grew from 0.12 to 0.35, and alerted 1.6 to 1.7 times sooner (README, "Window plans")
    window_plan: Literal["direct", "cascade"] | None = Field(
        default=None,
        description="direct: every window reads the readings; cascade (the default without state): the 10-minute "
                    "and site-hour windows are made of the 1-minute rows")
    hot_retention_days: int = 7
    hot_flush_ms: int = Field(default=200, ge=1,
                              description="how often the pending hot-aggregate rows go to Postgres, one transaction "
                                          "per table")
    catalog: dict[str, str]
    checkpoint_dir: Path
    checkpoint_interval_ms: int = 10_000
    checkpoint_min_pause_ms: int = Field(
        default=1_000, ge=0,
        description="least time from one checkpoint's end to the next one's start: with checkpoints every 500 ms "
                    "for fast alerts, set 0 (the default 1 s would space them by their duration plus 1 s)")
    tolerable_failed_checkpoints: int = Field(
        default=0, description="checkpoints that may fail in a row (a full disk, a slow store) before the job restarts")
    parallelism: int = 1
    jars_dir: Path = PROJECT_ROOT / ".anemos" / "jars" / "flink"
    tmp_dir: Path = Field(default=PROJECT_ROOT / ".anemos" / "tmp" / "jobs",
                          description="local working directories of job processes (the mini-cluster's RocksDB)")
    restore_from: str | None = Field(default=None, description="checkpoint or savepoint path to resume from")
    python_state_cache: int = 100_000
    # Flink's local mini-cluster gives its slot 128 MiB of managed memory unless told otherwise: RocksDB's block
    # cache and write buffers for every stateful operator (46 MB of cache for all nine) and the Python workers'
    # share. Live at 4,968 readings/s the msg_id dedupe's lookups left that cache after about five minutes, its
    # thread went from 0.2 to 0.8 cores and the job fell behind; with 1 GiB it kept up for ten minutes
    # (README, "Live for ten minutes"). A cluster's TaskManagers size their own (cluster/flink.py).
    managed_memory_mb: int = Field(
        default=1024, ge=128,
        description="managed memory of the local mini-cluster's slot (RocksDB's block cache and write buffers, the "
                    "Python workers), in MiB; a cluster's TaskManagers set their own")
    kafka_transaction_timeout_ms: int = 900_000
    registry_password: SecretStr | None = None
    flink_conf: dict[str, str] = Field(
        default_factory=dict, description="extra Flink configuration, applied last (ANEMOS_JOB_FLINK_CONF as JSON)")

    def table(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    @property
    def effective_window_plan(self) -> str:
        return self.window_plan or NEW_DEPLOYMENT_PLAN

    @property
    def effective_partition_fetch_bytes(self) -> int:
        if self.partition_fetch_bytes is not None:
            return self.partition_fetch_bytes
        return 64 * 1024 if self.idle_timeout_s > 0 else 1024 * 1024

    @classmethod
    def from_stack(cls, stack: StackSettings, **overrides: object) -> "JobSettings":
        from stack.manager import catalog_properties

        base: dict[str, object] = {
            "bootstrap_servers": stack.kafka_bootstrap,
            "registry_url": stack.registry_url,
            "postgres_dsn": stack.postgres_dsn,
            "redis_url": stack.redis_url,
            "catalog": catalog_properties(stack),
            "checkpoint_dir": stack.path("checkpoints", "ingest"),
            "jars_dir": stack.path("jars", "flink"),
            "tmp_dir": stack.path("tmp", "jobs"),
        }
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)  # type: ignore[arg-type]
