"""Readings/s from gRPC clients through the bridge into Kafka, against confluent-kafka
producing the same Avro records directly (the limit), measured in the same run.

    python -m bench.bridge_throughput [--readings 100000] [--runs 3] [--clients 2]

The bridge runs in its own process with mTLS, as deployed; clients send unary batches of
1,000 from separate processes. Medians of --runs runs are reported, with the ratio.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform as host_platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from anemos import platform
from edge_bridge import registry
from edge_bridge.certs import channel_credentials, ensure_dev_pki
from edge_bridge.producer import producer_config, reading_writer
from edge_bridge.proto import ingest_pb2 as pb
from bench import describe
from stack import manager
from stack.process import port_open
from stack.settings import PROJECT_ROOT, StackSettings
from udfs.identity import msg_id

RESULTS = Path(__file__).resolve().parent / "results" / "bridge_throughput.json"
EDGE = "edge-bench"
TURBINES = [f"BENCH-WTG{i:03d}" for i in range(50)]


def batches(n: int, client: int, base_ms: int) -> list[pb.TelemetryBatch]:
    out, readings = [], []
    for i in range(n):
        readings.append(pb.SensorReading(turbine_id=TURBINES[i % len(TURBINES)], sensor_id="wind", sensor_type="WMET.HorWdSpd",
                                         ts_unix_ms=base_ms - client * 10_000_000 - i, value=8.0 + (i % 7)))
        if len(readings) == 1000:
            out.append(pb.TelemetryBatch(batch_id=uuid.uuid4().hex, edge_id=EDGE, readings=readings))
            readings = []
    if readings:
        out.append(pb.TelemetryBatch(batch_id=uuid.uuid4().hex, edge_id=EDGE, readings=readings))
    return out


def _client(target: str, certs: tuple[str, str, str], n: int, client: int, base_ms: int, start: mp.Event, out: mp.Queue) -> None:
    import grpc

    from edge_bridge.certs import Issued
    from edge_bridge.proto import ingest_pb2_grpc as pb_grpc

    creds = channel_credentials(Path(certs[0]), Issued(Path(certs[1]), Path(certs[2])))
    todo = batches(n, client, base_ms)
    with grpc.secure_channel(target, creds) as ch:
        stub = pb_grpc.IngestServiceStub(ch)
        grpc.channel_ready_future(ch).result(timeout=30)
        start.wait()
        accepted = sum(stub.SendTelemetryBatch(b, timeout=60).accepted for b in todo)
    out.put(accepted)


def through_bridge(target: str, certs: tuple[str, str, str], readings: int, clients: int, run: int) -> float:
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    base_ms = int(time.time() * 1000) - 60_000 - run * 1_000_000
    procs = [ctx.Process(target=_client, args=(target, certs, readings // clients, c, base_ms, start, out)) for c in range(clients)]
    for p in procs:
        p.start()
    time.sleep(3)  # clients connect and build their batches before the clock starts
    t0 = time.perf_counter()
    start.set()
    accepted = sum(out.get(timeout=600) for _ in procs)
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    assert accepted == (readings // clients) * clients, f"bridge accepted {accepted}"
    return accepted / elapsed


def direct(stack: StackSettings, topic: str, readings: int, run: int) -> float:
    """The same records, encoded the same way and produced by confluent-kafka in one process,
    with no gRPC, validation or per-batch acknowledgement: the limit."""
    from udfs.records import Reading

    write = reading_writer(SchemaRegistryClient({"url": stack.registry_url}), topic)
    producer = Producer(producer_config(stack.kafka_bootstrap))
    base_ms = int(time.time() * 1000) - 60_000 - run * 1_000_000
    now = int(time.time() * 1000)
    t0 = time.perf_counter()
    for i in range(readings):
        turbine, ts = TURBINES[i % len(TURBINES)], base_ms - i
        r = Reading(msg_id(turbine, "wind", ts), turbine, "wind", "WMET.HorWdSpd", ts, 8.0 + (i % 7), EDGE, "direct", now)
        while True:
            try:
                producer.produce(topic, key=turbine.encode(), value=write(r.to_avro()))
                break
            except BufferError:
                producer.poll(0.01)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    return readings / (time.perf_counter() - t0)


def main() -> int:
    p = argparse.ArgumentParser(description=describe(__doc__))
    p.add_argument("--readings", type=int, default=100_000, help="readings per run (default %(default)s)")
    p.add_argument("--runs", type=int, default=3, help="runs; medians are reported")
    p.add_argument("--clients", type=int, default=2, help="client processes (one per core here)")
    args = p.parse_args()
    stack = StackSettings()
    manager.up(stack)
    names = platform.Names(raw_topic="bench.raw", dlq_topic="bench.dlq", aggregates_topic="bench.aggregates", alerts_topic="bench.alerts", commands_topic="bench.commands", freezes_topic="bench.freezes", namespace="bench", redis_prefix="bench")
    platform.ensure(stack, names)
    registry.register(stack.postgres_dsn, [registry.Site("BENCH", "bench farm", "bench", 0, 0)],
                      [registry.Turbine(t, "BENCH", "AN-3.6-130", 0, 0, EDGE) for t in TURBINES])
    pki = ensure_dev_pki(stack.path("certs"))
    edge = pki.edge(EDGE)
    port = 50151
    env = dict(os.environ, ANEMOS_BRIDGE_RAW_TOPIC=names.raw_topic, ANEMOS_BRIDGE_DLQ_TOPIC=names.dlq_topic,
               ANEMOS_BRIDGE_RATE_LIMIT_READINGS_PER_S="1e9", ANEMOS_BRIDGE_RATE_LIMIT_BURST="1e9")
    bridge = subprocess.Popen([sys.executable, "-m", "anemos", "--log-level", "WARNING", "bridge", "--listen", f"127.0.0.1:{port}"],
                              cwd=PROJECT_ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.2)
        certs = (str(pki.ca.cert), str(edge.cert), str(edge.key))
        via_bridge, limit = [], []
        for run in range(args.runs):
            limit.append(direct(stack, names.raw_topic, args.readings, run))
            via_bridge.append(through_bridge(f"127.0.0.1:{port}", certs, args.readings, args.clients, run))
            print(f"run {run + 1}: direct {limit[-1]:,.0f} readings/s, through the bridge {via_bridge[-1]:,.0f} readings/s", flush=True)
    finally:
        bridge.terminate()
        bridge.wait(timeout=60)
    result = {
        "benchmark": "bridge_throughput", "command": "python -m bench.bridge_throughput " + " ".join(sys.argv[1:]),
        "readings_per_run": args.readings, "runs": args.runs, "clients": args.clients, "batch_size": 1000, "tls": "mTLS",
        "direct_readings_per_s": {"median": round(statistics.median(limit)), "runs": [round(x) for x in limit]},
        "bridge_readings_per_s": {"median": round(statistics.median(via_bridge)), "runs": [round(x) for x in via_bridge]},
        "ratio_bridge_to_direct": round(statistics.median(via_bridge) / statistics.median(limit), 3),
        "machine": {"cpus": os.cpu_count(), "python": host_platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
