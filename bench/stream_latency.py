"""Latency through the stream job on a live fleet: a reading's arrival at the bridge to its alert on
Kafka (read_committed, so after the checkpoint that commits it), and a window's close to its Postgres row.

    python -m bench.stream_latency [--rate 5000] [--seconds 90] [--runs 3] [--checkpoint-ms 1000]
        [--checkpoint-min-pause-ms N] [--watermark-bound-s 5] [--flink-conf KEY=VALUE ...] [--out FILE]

Turbines send every channel once a second at event time = now; every few seconds one turbine's
gearbox temperature jumps (a z-score alert). An alert's latency is the time its RAISED record
became readable on Kafka minus the time the spiking reading was sent. A window's close is the
moment event time passed its end plus the watermark bound (--watermark-bound-s); its latency is the Postgres row's
updated_at minus that. Each run is a fresh pipeline; the medians over runs are reported, with each
run's figures and, per operator, how long the barrier of a checkpoint under load took to reach it
(the queue in front of it) and that checkpoint's times, with the job's checkpoint durations so far.
Writes bench/results/stream_latency.json.
"""

from __future__ import annotations

import argparse
import calendar
import json
import logging
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
from confluent_kafka import Consumer
from rich.progress import Progress

from anemos import platform
from bench import describe, job_environment, rest_json
from anemos.runner import IngestJob
from edge_bridge import registry, simulator
from edge_bridge.proto import ingest_pb2 as pb
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from flink_jobs.common.settings import flink_conf_items
from stack import manager
from stack.settings import StackSettings
from udfs.channels import CHANNELS

log = logging.getLogger("bench.stream_latency")
RESULTS = Path(__file__).resolve().parent / "results" / "stream_latency.json"
SPIKE_CHANNEL = "WTRM.TrmTmpGbxOil"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def barrier_delays(rest: str) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Per operator chain, how long the last completed checkpoint's barrier took to reach it (ms, slowest subtask),
    and that chain's checkpoint times (ms, slowest subtask): barrier delay, end to end, sync and async parts.

    A barrier travels behind the records already queued in front of a task, so the delay is that task's queue
    measured in time: where it jumps, the operator before it is the one that cannot keep up. What end to end
    holds beyond delay, sync and async is the time between the barrier's arrival and the snapshot: for a Python
    operator, finishing its bundle and writing its changed state back to the JVM."""
    def get(path: str) -> dict:
        return rest_json(rest, path)

    jobs = [j["id"] for j in get("/jobs")["jobs"] if j["status"] == "RUNNING"]
    if not jobs:
        return {}, {}
    job = jobs[0]
    names = {v["id"]: v["name"] for v in get(f"/jobs/{job}")["vertices"]}
    latest = get(f"/jobs/{job}/checkpoints")["latest"]["completed"]
    if not latest:
        return {}, {}
    delays, times = {}, {}
    for vertex in get(f"/jobs/{job}/checkpoints/details/{latest['id']}")["tasks"]:
        subtasks = get(f"/jobs/{job}/checkpoints/details/{latest['id']}/subtasks/{vertex}")["subtasks"]
        name = names[vertex][:90]
        delays[name] = max(s.get("start_delay", 0) for s in subtasks)
        times[name] = {
            "end_to_end": max(s.get("end_to_end_duration", 0) for s in subtasks), "barrier_delay": delays[name],
            "sync": max(s.get("checkpoint", {}).get("sync", 0) for s in subtasks),
            "async": max(s.get("checkpoint", {}).get("async", 0) for s in subtasks),
        }
    by_time = sorted(times.items(), key=lambda kv: kv[1]["end_to_end"])
    return dict(sorted(delays.items(), key=lambda kv: kv[1])), dict(by_time)


def checkpoint_stats(rest: str) -> dict[str, object]:
    """Checkpoints completed so far and their end-to-end durations (ms): an alert on Kafka waits for the
    checkpoint that commits its transaction, so their spacing and duration are part of its latency."""
    jobs = [j["id"] for j in rest_json(rest, "/jobs")["jobs"] if j["status"] == "RUNNING"]
    if not jobs:
        return {}
    stats = rest_json(rest, f"/jobs/{jobs[0]}/checkpoints")
    duration = stats["summary"]["end_to_end_duration"]
    failures = sorted({c.get("failure_message") or "?" for c in stats.get("history", []) if c["status"] == "FAILED"})
    return {"completed": stats["counts"]["completed"], "failed": stats["counts"]["failed"],
            "duration_ms": {k: duration.get(k) for k in ("min", "p50", "p99", "max")},
            "failures_in_history": [f[:300] for f in failures]}


def one_run(stack: StackSettings, args: argparse.Namespace, run: int) -> dict[str, object]:
    """One fresh pipeline (topics, tables, job) under a paced fleet; latencies of its alerts and windows."""
    tag = uuid.uuid4().hex[:8]
    names = platform.Names.isolated(tag, kind="bench")
    platform.ensure(stack, names)
    n_turbines = max(1, args.rate // len(CHANNELS))
    sites, fleet = simulator.small_fleet(900, n_turbines, "edge-latency")
    sites = [s.__class__(f"LAT-{tag}", s.name, s.region, s.lat, s.lon) for s in sites]
    fleet = [t.__class__(f"L{tag}-{i:04d}", sites[0].site_id, t.model, t.lat, t.lon, t.edge_id) for i, t in enumerate(fleet)]
    # removed again when the run ends: each run registers a fresh fleet, and every job reloads the registry
    with registry.registered(stack.postgres_dsn, sites, fleet):
        bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic,
                                                  dlq_topic=names.dlq_topic)).start()
        spikes_sent: dict[tuple[str, int], float] = {}  # (turbine, event second) -> wall time sent
        alerts_seen: dict[tuple[str, int], float] = {}
        stop = threading.Event()
        rest_port = free_port()
        delays: dict[str, int] = {}
        operator_times: dict[str, dict[str, int]] = {}
        checkpoints: dict[str, object] = {}

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
                            checkpoint_interval_ms=args.checkpoint_ms, log_path=Path(tmp) / "job.log",
                            extra_args=job_args(args, rest_port)).start()
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
                    if s == args.seconds - 5:
                        try:  # under load, before the fleet goes quiet
                            delays, operator_times = barrier_delays(f"http://127.0.0.1:{rest_port}")
                            checkpoints = checkpoint_stats(f"http://127.0.0.1:{rest_port}")
                        except (OSError, KeyError, ValueError) as err:
                            log.warning("no checkpoint details from the job's REST API: %s", err)
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
        window_lat = [float(r[0]) - args.watermark_bound_s for r in rows]
        alert_lat = [alerts_seen[k] - sent for k, sent in spikes_sent.items() if k in alerts_seen]  # in send order
        return {
            "run": run, "rate_readings_per_s": n_turbines * len(CHANNELS), "turbines": n_turbines,
            "seconds_sender_fell_behind": behind,
            "alerts": {"spikes_sent": len(spikes_sent), "alerts_seen": len(alert_lat),
                       "p50_s": statistics.median(alert_lat) if alert_lat else None,
                       "p99_s": percentile(alert_lat, 99) if alert_lat else None,
                       # every alert's latency in the order its spike was sent, and the seconds into the run of
                       # that send: with a few dozen spikes the p99 is the slowest one, and this shows whether
                       # the slow ones are the early ones (a cold JVM) or come in step with something periodic
                       "each_s": [round(x, 3) for x in alert_lat],
                       "sent_at_s": [round(sent - started, 1) for k, sent in spikes_sent.items() if k in alerts_seen]},
            "window_close_to_postgres": {"rows": len(window_lat),
                                         "p50_s": statistics.median(window_lat) if window_lat else None,
                                         "p99_s": percentile(window_lat, 99) if window_lat else None},
            "barrier_delay_ms": delays,
            "last_checkpoint_by_operator_ms": operator_times,
            "checkpoints_under_load": checkpoints,  # counted 5 s before the fleet stops, job started with the fleet
        }


def job_args(args: argparse.Namespace, rest_port: int) -> tuple[str, ...]:
    """The job's flags: the bench's bound and Flink settings, and a known REST port to read checkpoints from."""
    conf = [*args.flink_conf, f"rest.port={rest_port}", "rest.bind-address=127.0.0.1"]
    pause = () if args.checkpoint_min_pause_ms is None else ("--checkpoint-min-pause-ms", str(args.checkpoint_min_pause_ms))
    return ("--watermark-bound-s", str(args.watermark_bound_s), *pause, *(a for kv in conf for a in ("--flink-conf", kv)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def median_of(runs: list[dict[str, object]], path: tuple[str, str]) -> float | None:
    values = [r[path[0]][path[1]] for r in runs if r[path[0]][path[1]] is not None]  # type: ignore[index]
    return round(statistics.median(values), 2) if values else None


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.stream_latency", description=describe(__doc__))
    p.add_argument("--rate", type=int, default=5_000, help="readings/s (turbines x 12 channels)")
    p.add_argument("--seconds", type=int, default=90, help="how long the fleet sends, per run (default %(default)s)")
    p.add_argument("--runs", type=int, default=3, help="fresh pipelines, one after another; medians are reported")
    p.add_argument("--checkpoint-ms", type=int, default=1_000, help="the job's checkpoint interval (default %(default)s)")
    p.add_argument("--checkpoint-min-pause-ms", type=int,
                   help="the job's least pause between checkpoints (its default 1000; 0 with --checkpoint-ms 500)")
    p.add_argument("--watermark-bound-s", type=float, default=5.0, help="the job's bound on out-of-orderness (seconds)")
    p.add_argument("--flink-conf", action="append", default=[], metavar="KEY=VALUE",
                   help="extra Flink configuration for the job (repeatable)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results file (default %(default)s)")
    args = p.parse_args()
    if args.runs < 1 or args.seconds < 60:
        p.error("--runs must be at least 1 and --seconds at least 60 (spikes start after 45 s)")
    try:
        flink_conf = flink_conf_items(args.flink_conf)
    except ValueError as err:
        p.error(str(err))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stack = StackSettings()
    manager.up(stack)
    runs = []
    with Progress(transient=True) as progress:
        task = progress.add_task(f"{args.runs} runs of {args.seconds}s", total=args.runs)
        for run in range(1, args.runs + 1):
            runs.append(one_run(stack, args, run))
            log.info("run %d: %s", run, json.dumps({k: runs[-1][k] for k in ("alerts", "window_close_to_postgres")}))
            progress.advance(task)
    result = {
        "command": "python -m bench.stream_latency " + " ".join(sys.argv[1:]),
        "rate_readings_per_s": runs[0]["rate_readings_per_s"], "seconds": args.seconds, "runs": args.runs,
        "checkpoint_interval_ms": args.checkpoint_ms, "checkpoint_min_pause_ms": args.checkpoint_min_pause_ms,
        "watermark_bound_s": args.watermark_bound_s,
        "flink_conf": flink_conf, "job_env": job_environment(),
        "python_workers": os.environ.get("_python_worker_execution_mode", "process"),
        "median_of_runs": {
            "alert_p50_s": median_of(runs, ("alerts", "p50_s")), "alert_p99_s": median_of(runs, ("alerts", "p99_s")),
            "window_p50_s": median_of(runs, ("window_close_to_postgres", "p50_s")),
            "window_p99_s": median_of(runs, ("window_close_to_postgres", "p99_s")),
        },
        "per_run": runs,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
