"""Latency through the stream job on a live fleet: a reading's arrival at the bridge to its alert on
Kafka (read_committed, so after the checkpoint that commits it), and a window's close to its Postgres row.

    python -m bench.stream_latency [--rate 5000] [--seconds 90] [--checkpoint-ms 1000]

Turbines send every channel once a second at event time = now; every few seconds one turbine's
gearbox temperature jumps (a z-score alert). An alert's latency is the time its RAISED record
became readable on Kafka minus the time the spiking reading was sent. A window's close is the
moment event time passed its end plus the watermark bound; its latency is the Postgres row's
updated_at minus that. Writes bench/results/stream_latency.json.
"""

from __future__ import annotations

import argparse
import calendar
import json
import random
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
from confluent_kafka import Consumer

from anemos import platform
from anemos.runner import IngestJob
from edge_bridge import registry, simulator
from edge_bridge.proto import ingest_pb2 as pb
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from stack import manager
from stack.settings import StackSettings
from udfs.channels import CHANNELS

RESULTS = Path(__file__).resolve().parent / "results" / "stream_latency.json"
SPIKE_CHANNEL = "WTRM.TrmTmpGbxOil"
WATERMARK_BOUND_S = 5


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.stream_latency", description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=int, default=5_000, help="readings/s (turbines x 12 channels)")
    p.add_argument("--seconds", type=int, default=90)
    p.add_argument("--checkpoint-ms", type=int, default=1_000)
    args = p.parse_args()
    stack = StackSettings()
    manager.up(stack)
    tag = uuid.uuid4().hex[:8]
    names = platform.Names.isolated(tag, kind="bench")
    platform.ensure(stack, names)
    n_turbines = max(1, args.rate // len(CHANNELS))
    sites, fleet = simulator.small_fleet(900, n_turbines, "edge-latency")
    sites = [s.__class__(f"LAT-{tag}", s.name, s.region, s.lat, s.lon) for s in sites]
    fleet = [t.__class__(f"L{tag}-{i:04d}", sites[0].site_id, t.model, t.lat, t.lon, t.edge_id) for i, t in enumerate(fleet)]
    registry.register(stack.postgres_dsn, sites, fleet)
    bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic,
                                              dlq_topic=names.dlq_topic)).start()
    spikes_sent: dict[tuple[str, int], float] = {}  # (turbine, event second) -> wall time sent
    alerts_seen: dict[tuple[str, int], float] = {}
    stop = threading.Event()

    def consume() -> None:
        consumer = Consumer({"bootstrap.servers": stack.kafka_bootstrap, "group.id": f"lat-{tag}",
                             "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
        consumer.subscribe([names.alerts_topic])
        while not stop.is_set():
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            a = json.loads(msg.value())
            if a["rule"] == "zscore" and a["status"] == "RAISED":
                second = calendar.timegm(time.strptime(a["event_time"][:19], "%Y-%m-%d %H:%M:%S"))
                alerts_seen.setdefault((a["turbine_id"], second), time.time())
        consumer.close()

    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        job = IngestJob(stack, names, Path(tmp) / "checkpoints", consumer_group=f"lat-{tag}", job_name=f"lat-{tag}",
                        checkpoint_interval_ms=args.checkpoint_ms, log_path=Path(tmp) / "job.log").start()
        reader = threading.Thread(target=consume, daemon=True)
        try:
            job.wait_submitted()
            reader.start()
            target = f"127.0.0.1:{bridge.port}"
            started = time.time()
            behind = 0
            for s in range(args.seconds):
                tick = started + s
                now_ms = int(tick * 1000)
                rows, spiking = [], rng.choice(fleet).turbine_id if s > 45 and s % 3 == 0 else None
                for t in fleet:
                    for ch in CHANNELS.values():
                        mid = (ch.low + ch.high) / 2
                        value = mid + rng.gauss(0, (ch.high - ch.low) / 1000)
                        if t.turbine_id == spiking and ch.name == SPIKE_CHANNEL:
                            value = ch.high * 0.95
                        rows.append(pb.SensorReading(turbine_id=t.turbine_id, sensor_id=f"{ch.name}.1", sensor_type=ch.name,
                                                     ts_unix_ms=now_ms, value=value))
                simulator.send_readings(target, rows, batch_size=1000, edge_id="edge-latency")
                if spiking:
                    spikes_sent[(spiking, now_ms // 1000)] = time.time()
                lag = time.time() - (tick + 1)
                if lag < 0:
                    time.sleep(-lag)
                else:
                    behind += 1
            time.sleep(max(10, 3 * args.checkpoint_ms / 1000))
        finally:
            stop.set()
            job.stop()
            bridge.stop()
    with psycopg.connect(stack.postgres_dsn) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM updated_at - window_end) FROM turbine_agg_1m WHERE turbine_id LIKE %s",
            (f"L{tag}-%",),
        ).fetchall()
    window_lat = [float(r[0]) - WATERMARK_BOUND_S for r in rows]
    alert_lat = [alerts_seen[k] - sent for k, sent in spikes_sent.items() if k in alerts_seen]
    result = {
        "rate_readings_per_s": n_turbines * len(CHANNELS), "turbines": n_turbines, "seconds": args.seconds,
        "seconds_sender_fell_behind": behind, "checkpoint_interval_ms": args.checkpoint_ms,
        "alerts": {"spikes_sent": len(spikes_sent), "alerts_seen": len(alert_lat),
                   "p50_s": statistics.median(alert_lat) if alert_lat else None,
                   "p99_s": percentile(alert_lat, 99) if alert_lat else None},
        "window_close_to_postgres": {"rows": len(window_lat),
                                     "p50_s": statistics.median(window_lat) if window_lat else None,
                                     "p99_s": percentile(window_lat, 99) if window_lat else None},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
