"""The stack itself: idempotent up, down stops everything it started, data survives down/up.

Runs a second stack in its own state folder and ports, so the shared one stays up.
"""

import os
import uuid
from pathlib import Path

import boto3
import psycopg
import pytest
import redis
from botocore.config import Config
from confluent_kafka import Producer

from stack import manager
from stack.settings import StackSettings
from reliability.kafka_read import read_all

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(") ")[1].split()[0] != "Z"


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory, stack: StackSettings):  # type: ignore[no-untyped-def]
    # pytest's temp root is private (0700): this also covers Postgres's fallback data folder
    state = tmp_path_factory.mktemp("stack")
    # reuse the jars the main stack resolved, so this test does not fetch them again
    (state / "jvm").symlink_to(stack.path("jvm"))
    offset = 200
    settings = StackSettings(
        state_dir=state, kafka_port=stack.kafka_port + offset, kafka_controller_port=stack.kafka_controller_port + offset,
        registry_port=stack.registry_port + offset, s3_port=stack.s3_port + offset,
        postgres_port=stack.postgres_port + offset, redis_port=stack.redis_port + offset,
    )
    yield settings
    manager.down(settings)
    import shutil

    from stack.services.postgres import Postgres

    pg_data = Postgres(settings).data_dir
    if str(pg_data).startswith("/var/lib/anemos/"):  # the fallback folder outlives tmp: remove it
        shutil.rmtree(pg_data.parent, ignore_errors=True)


def pids(st: dict) -> dict[str, int]:  # type: ignore[type-arg]
    return {name: svc["pid"] for name, svc in st["services"].items()}


def test_up_is_idempotent_down_stops_all_and_data_survives(own_stack: StackSettings) -> None:
    first = manager.up(own_stack)
    assert all(s["answering"] for s in first["services"].values()), first
    again = manager.up(own_stack)
    assert pids(again) == pids(first), "a second up must not start anything new"

    marker = uuid.uuid4().hex
    s3 = boto3.client("s3", endpoint_url=own_stack.s3_endpoint, aws_access_key_id=own_stack.s3_access_key,
                      aws_secret_access_key=own_stack.s3_secret_key.get_secret_value(), region_name=own_stack.s3_region,
                      config=Config(s3={"addressing_style": "path"}))
    s3.put_object(Bucket=own_stack.s3_bucket, Key=f"probe/{marker}", Body=marker.encode())
    with psycopg.connect(own_stack.postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS probe (v text)")
        conn.execute("INSERT INTO probe VALUES (%s)", (marker,))
    redis.Redis.from_url(own_stack.redis_url).set("probe", marker)
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": own_stack.kafka_bootstrap})  # keep a reference until the result
    admin.create_topics([NewTopic("probe", 1, 1)])["probe"].result()
    p = Producer({"bootstrap.servers": own_stack.kafka_bootstrap, "enable.idempotence": True})
    p.produce("probe", value=marker.encode())
    assert p.flush(30) == 0

    stopped = manager.down(own_stack)
    assert sorted(stopped) == sorted(first["services"])
    assert not any(alive(pid) for pid in pids(first).values()), "down left a process running"
    assert all(not s["running"] for s in manager.status(own_stack)["services"].values())

    manager.up(own_stack)
    assert s3.get_object(Bucket=own_stack.s3_bucket, Key=f"probe/{marker}")["Body"].read() == marker.encode()
    with psycopg.connect(own_stack.postgres_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM probe WHERE v = %s", (marker,)).fetchone() == (1,)
    assert redis.Redis.from_url(own_stack.redis_url).get("probe") == marker.encode()
    assert [m.value() for m in read_all(own_stack.kafka_bootstrap, "probe", expected=1)] == [marker.encode()]


def test_down_does_not_touch_processes_it_did_not_start(own_stack: StackSettings, tmp_path: Path) -> None:
    import subprocess

    stranger = subprocess.Popen(["sleep", "60"])
    pid_file = own_stack.path("run", "redis.pid")
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    manager.down(own_stack)
    pid_file.write_text(f"{stranger.pid} 0\n")  # a stale pid file naming someone else's process
    manager.down(own_stack)
    assert stranger.poll() is None, "down killed a process it had not started"
    stranger.kill()


def test_up_refuses_a_port_held_by_a_foreign_process(stack: StackSettings, tmp_path: Path) -> None:
    import socket

    from stack.errors import StartError

    (tmp_path / "jvm").symlink_to(stack.path("jvm"))
    (tmp_path / "jars").symlink_to(stack.path("jars"))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        settings = StackSettings(state_dir=tmp_path, postgres_port=port)
        with pytest.raises(StartError, match=f"port {port}"):
            manager.up(settings)
    assert manager.status(settings)["services"]["postgres"]["pid"] is None
