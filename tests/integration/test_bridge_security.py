"""The bridge's front door under mTLS: who may connect, who may send for which turbine, limits."""

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from anemos.platform import Names
from edge_bridge import registry
from edge_bridge.certs import DevPki, channel_credentials, create_ca, ensure_dev_pki, issue, self_signed_client
from edge_bridge.proto import ingest_pb2 as pb
from edge_bridge.proto import ingest_pb2_grpc as pb_grpc
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from stack.settings import StackSettings
from reliability.kafka_read import read_all

pytestmark = pytest.mark.integration


@pytest.fixture
def fleet(stack: StackSettings, names: Names) -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    ids = {"edge_a": f"edge-a-{tag}", "edge_b": f"edge-b-{tag}", "ta": f"TA-{tag}", "tb": f"TB-{tag}"}
    site = registry.Site(f"S-{tag}", "security test farm", "test", 55.0, 8.0)
    registry.register(stack.postgres_dsn, [site], [
        registry.Turbine(ids["ta"], site.site_id, "AN-2.0-90", 55.0, 8.0, ids["edge_a"]),
        registry.Turbine(ids["tb"], site.site_id, "AN-2.0-90", 55.0, 8.0, ids["edge_b"]),
    ])
    return ids


@pytest.fixture
def pki(tmp_path: Path) -> DevPki:
    return ensure_dev_pki(tmp_path / "pki")


@pytest.fixture
def start_bridge(stack: StackSettings, names: Names, pki: DevPki) -> Iterator[Callable[..., Bridge]]:
    started: list[Bridge] = []

    def start(**overrides: object) -> Bridge:
        settings = BridgeSettings.from_stack(
            stack, listen="127.0.0.1:0", raw_topic=names.raw_topic, dlq_topic=names.dlq_topic, metrics_port=0,
            tls_cert=pki.server.cert, tls_key=pki.server.key, tls_client_ca=pki.ca.cert, **overrides,
        )
        b = Bridge(settings).start()
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop(grace_s=2)


def reading(turbine: str, **kw: object) -> pb.SensorReading:
    base: dict[str, object] = {"turbine_id": turbine, "sensor_id": "wind", "sensor_type": "WMET.HorWdSpd",
                               "ts_unix_ms": int(time.time() * 1000), "value": 8.0}
    base.update(kw)
    return pb.SensorReading(**base)  # type: ignore[arg-type]


def send(bridge: Bridge, creds: grpc.ChannelCredentials | None, batch: pb.TelemetryBatch) -> pb.Ack:
    target = f"127.0.0.1:{bridge.port}"
    with (grpc.secure_channel(target, creds) if creds else grpc.insecure_channel(target)) as ch:
        return pb_grpc.IngestServiceStub(ch).SendTelemetryBatch(batch, timeout=15)


def code_of(fn: Callable[[], object]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        fn()
    return err.value.code()


def test_registered_gateway_is_accepted_and_counted(start_bridge, pki, fleet, stack, names) -> None:  # type: ignore[no-untyped-def]
    bridge = start_bridge()
    creds = channel_credentials(pki.ca.cert, pki.edge(fleet["edge_a"]))
    batch = pb.TelemetryBatch(batch_id="ok", edge_id=fleet["edge_a"], readings=[
        reading(fleet["ta"]), reading(fleet["ta"], value=float("nan")), reading(fleet["ta"], ts_unix_ms=0),
        reading("T1'; DROP TABLE x;--"), reading(fleet["ta"], ts_unix_ms=int(time.time() * 1000) + 86_400_000),
    ])
    ack = send(bridge, creds, batch)
    assert ack.accepted == 1
    assert [r.reason_code for r in ack.rejected] == ["VALUE_NOT_FINITE", "TIMESTAMP_TOO_OLD", "BAD_TURBINE_ID", "TIMESTAMP_IN_FUTURE"]
    scrape = httpx.get(f"http://127.0.0.1:{bridge.metrics_port}/metrics").text
    assert "anemos_bridge_readings_accepted_total 1.0" in scrape
    assert 'anemos_bridge_readings_rejected_total{reason="BAD_TURBINE_ID"} 1.0' in scrape


def _bad_client(kind: str, tmp_path: Path, pki: DevPki, edge: str) -> grpc.ChannelCredentials | None:
    if kind == "no client certificate":
        return channel_credentials(pki.ca.cert, None)
    if kind == "self-signed":
        return channel_credentials(pki.ca.cert, self_signed_client(tmp_path / "self", edge))
    if kind == "another CA":
        other = create_ca(tmp_path / "other-ca")
        return channel_credentials(pki.ca.cert, issue(other, tmp_path / "other-edge", edge, server=False))
    if kind == "expired":
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
        return channel_credentials(pki.ca.cert, issue(pki.ca, tmp_path / "expired", edge, server=False, not_before=long_ago, days=30))
    return None  # plaintext to the TLS port


@pytest.mark.parametrize("kind", ["no client certificate", "self-signed", "another CA", "expired", "plaintext"])
def test_untrusted_clients_cannot_connect(kind: str, tmp_path, start_bridge, pki, fleet, stack, names) -> None:  # type: ignore[no-untyped-def]
    bridge = start_bridge()
    creds = _bad_client(kind, tmp_path, pki, fleet["edge_a"])
    batch = pb.TelemetryBatch(batch_id="x", edge_id=fleet["edge_a"], readings=[reading(fleet["ta"])])
    assert code_of(lambda: send(bridge, creds, batch)) == grpc.StatusCode.UNAVAILABLE
    assert read_all(stack.kafka_bootstrap, names.raw_topic, timeout_s=4) == []


def test_gateway_cannot_send_for_another_gateways_turbine_or_name(start_bridge, pki, fleet, stack, names) -> None:  # type: ignore[no-untyped-def]
    bridge = start_bridge()
    creds = channel_credentials(pki.ca.cert, pki.edge(fleet["edge_a"]))
    theirs = pb.TelemetryBatch(batch_id="x", edge_id=fleet["edge_a"], readings=[reading(fleet["ta"]), reading(fleet["tb"])])
    assert code_of(lambda: send(bridge, creds, theirs)) == grpc.StatusCode.PERMISSION_DENIED
    impostor = pb.TelemetryBatch(batch_id="y", edge_id=fleet["edge_b"], readings=[reading(fleet["tb"])])
    assert code_of(lambda: send(bridge, creds, impostor)) == grpc.StatusCode.PERMISSION_DENIED
    assert read_all(stack.kafka_bootstrap, names.raw_topic, timeout_s=4) == [], "nothing may be produced for a refused batch"


def test_oversized_batches_and_rate_limits_are_resource_exhausted(start_bridge, pki, fleet) -> None:  # type: ignore[no-untyped-def]
    bridge = start_bridge(max_batch_readings=50, max_message_bytes=64 * 1024, rate_limit_readings_per_s=10, rate_limit_burst=60)
    creds = channel_credentials(pki.ca.cert, pki.edge(fleet["edge_a"]))
    now = int(time.time() * 1000)
    too_many = pb.TelemetryBatch(batch_id="big", edge_id=fleet["edge_a"], readings=[reading(fleet["ta"], ts_unix_ms=now - i) for i in range(51)])
    assert code_of(lambda: send(bridge, creds, too_many)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    huge = pb.TelemetryBatch(batch_id="huge", edge_id=fleet["edge_a"], readings=[reading("x" * 20_000) for _ in range(5)])
    assert code_of(lambda: send(bridge, creds, huge)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    forty = pb.TelemetryBatch(batch_id="r1", edge_id=fleet["edge_a"], readings=[reading(fleet["ta"], ts_unix_ms=now - i) for i in range(40)])
    assert send(bridge, creds, forty).accepted == 40
    assert code_of(lambda: send(bridge, creds, forty)) == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_many_concurrent_streams(start_bridge, pki, fleet, stack, names) -> None:  # type: ignore[no-untyped-def]
    bridge = start_bridge()
    creds = channel_credentials(pki.ca.cert, pki.edge(fleet["edge_a"]))
    results: list[int] = []
    errors: list[Exception] = []

    def stream(k: int) -> None:
        base = int(time.time() * 1000) - k * 1000

        def batches():  # type: ignore[no-untyped-def]
            for b in range(5):
                yield pb.TelemetryBatch(batch_id=f"c{k}-{b}", edge_id=fleet["edge_a"],
                                        readings=[reading(fleet["ta"], sensor_id=f"s{k}", ts_unix_ms=base - b * 100 - i) for i in range(20)])

        try:
            with grpc.secure_channel(f"127.0.0.1:{bridge.port}", creds) as ch:
                results.extend(a.accepted for a in pb_grpc.IngestServiceStub(ch).StreamTelemetry(batches(), timeout=60))
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=stream, args=(k,)) for k in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 24 * 5 and sum(results) == 24 * 5 * 20
    assert len(read_all(stack.kafka_bootstrap, names.raw_topic, expected=2400, timeout_s=60)) == 2400
