"""flink_jobs.common.env.create: what the job asks of Flink's local mini-cluster.

Its slot's managed memory is RocksDB's block cache and write buffers for every stateful operator. Flink's local
default of 128 MiB let the live job fall behind after about five minutes at 4,968 readings/s (README, "Live for
ten minutes"), so the job sets the size itself, on the mini-cluster only: under `flink run` the cluster's
TaskManagers own it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pyflink.datastream import StreamExecutionEnvironment

from flink_jobs.common import env
from flink_jobs.common.settings import JobSettings
from stack.settings import StackSettings

pytestmark = pytest.mark.flink


def settings(tmp_path: Path, **overrides: object) -> JobSettings:
    jars = tmp_path / "jars"
    jars.mkdir(exist_ok=True)
    (jars / "connector.jar").write_bytes(b"")
    return JobSettings.from_stack(StackSettings(), checkpoint_dir=tmp_path / "ckpt", jars_dir=jars,
                                  tmp_dir=tmp_path / "work", **overrides)


def conf_of_create(monkeypatch: pytest.MonkeyPatch, job: JobSettings) -> dict[str, str]:
    seen: dict[str, Any] = {}
    real = StreamExecutionEnvironment.get_execution_environment

    def capture(conf: Any = None) -> StreamExecutionEnvironment:
        seen["conf"] = conf.to_dict()
        return real(conf)

    monkeypatch.setattr(StreamExecutionEnvironment, "get_execution_environment", staticmethod(capture))
    env.create(job)
    return seen["conf"]


def test_the_mini_clusters_slot_gets_the_settings_managed_memory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "environ", os.environ.copy())  # create() sets the job's variables: not for later tests
    os.environ.pop("PYFLINK_GATEWAY_PORT", None)
    assert conf_of_create(monkeypatch, settings(tmp_path))["taskmanager.memory.managed.size"] == "1024m"
    assert conf_of_create(monkeypatch, settings(tmp_path, managed_memory_mb=300))["taskmanager.memory.managed.size"] == "300m"


def test_rocksdb_compacts_universally_unless_the_job_says_otherwise(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    monkeypatch.setattr(os, "environ", os.environ.copy())
    key = "state.backend.rocksdb.compaction.style"
    assert conf_of_create(monkeypatch, settings(tmp_path))[key] == "UNIVERSAL"
    assert conf_of_create(monkeypatch, settings(tmp_path, flink_conf={key: "LEVEL"}))[key] == "LEVEL"
