from pathlib import Path

import pytest

from edge_bridge.settings import BridgeSettings
from stack.settings import StackSettings

pytestmark = pytest.mark.unit


def test_flags_override_environment_override_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "anemos.toml"
    cfg.write_text("[stack]\nkafka_port = 1111\nredis_port = 2222\n[bridge]\nmax_batch_readings = 77\nack_timeout_s = 9\n")
    monkeypatch.setenv("ANEMOS_CONFIG", str(cfg))
    monkeypatch.setenv("ANEMOS_STACK_REDIS_PORT", "3333")
    monkeypatch.setenv("ANEMOS_BRIDGE_ACK_TIMEOUT_S", "4")
    stack = StackSettings()
    assert (stack.kafka_port, stack.redis_port) == (1111, 3333)
    bridge = BridgeSettings(listen="x:1", bootstrap_servers="b", registry_url="r", plaintext=True, max_batch_readings=5)
    assert (bridge.max_batch_readings, bridge.ack_timeout_s) == (5, 4.0)
    assert BridgeSettings(listen="x:1", bootstrap_servers="b", registry_url="r", plaintext=True).max_batch_readings == 77


def test_mtls_settings_must_be_complete() -> None:
    with pytest.raises(ValueError, match="mTLS needs"):
        BridgeSettings(listen="x:1", bootstrap_servers="b", registry_url="r")


def test_kafka_cluster_ids_never_start_with_a_dash() -> None:
    from stack.services.kafka import Kafka
    from stack.settings import StackSettings

    kafka = Kafka(StackSettings())
    ids = [kafka._cluster_id() for _ in range(2000)]  # about 31 of 2,000 raw ids would start with '-'
    assert all(not i.startswith("-") and len(i) == 22 for i in ids)
