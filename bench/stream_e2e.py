"""End to end through the stream job: readings/s drained from Kafka into every sink, exactly-once on,
against a single Python process that only consumes and decodes the same records (the baseline),
measured in the same run; plus checkpointed state and memory per turbine.

    python -m bench.stream_e2e [--readings 216000] [--turbines 50] [--runs 3] [--parallelism 1] [--checkpoint-ms 5000]
        [--flink-conf KEY=VALUE ...] [--out FILE]

Each run: the simulated fleet (every turbine sends its 12 channels once a second, so the defaults
give six minutes of event time and full one-minute windows) sends --readings through the bridge (plaintext, in process) into a
fresh topic, then a fresh job (own consumer group, namespace and checkpoints) drains that backlog.
The job's rate is the slope of the rows committed to wind.readings over the commits made while the
backlog lasted (busy_rate), so JVM start-up, job submission and the wait for the last checkpoint are
not in it. Medians of --runs are written to
bench/results/stream_e2e.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host_platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient

import schemas
from anemos import platform
from bench import describe, job_environment
from anemos.runner import IngestJob, JobFailedError
from edge_bridge import registry, simulator
from edge_bridge.proto import ingest_pb2 as pb
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from flink_jobs.common.settings import JobSettings, flink_conf_items
from reliability.pipeline import committed_rows
from stack import manager
from stack.settings import StackSettings
from udfs.wire import ReadingDecoder, is_heartbeat

WINDOW_MS = 60_000
EDGE_ID = "edge-bench"
RESULTS = Path(__file__).resolve().parent / "results" / "stream_e2e.json"


def group_rss_mb(pgid: int) -> float:
    """Resident memory of every process in the job's process group (client, JVM, Python workers)."""
    out = subprocess.run(["ps", "-o", "rss=", "-g", str(pgid)], capture_output=True, text=True, check=False).stdout
    return sum(int(x) for x in out.split()) / 1024


def baseline_rate(stack: StackSettings, topic: str, n: int) -> float:
    """One Python process: consume and decode every record (no state, no sinks)."""
    client = SchemaRegistryClient({"url": stack.registry_url})
    decoder = ReadingDecoder(schemas.load("sensor_reading"), lambda sid: client.get_schema(sid).schema_str)
    consumer = Consumer({"bootstrap.servers": stack.kafka_bootstrap, "group.id": f"bench-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen, started = 0, 0.0
    try:
        while seen < n:
            for msg in consumer.consume(1000, timeout=1.0):
                if msg.error() or is_heartbeat(msg.key()):
                    continue
                if not started:
                    started = time.perf_counter()
                decoder.decode(msg.value(), lambda _e: False)
                seen += 1
    finally:
        consumer.close()
    return n / (time.perf_counter() - started)


def busy_rate(samples: list[tuple[float, int]], total: int) -> float:
    """Readings/s between the first and the last commit made while the backlog was not drained yet.

    A commit holds what the job processed up to its checkpoint's barrier, so commits come once per
    checkpoint interval. The commit that completes the backlog comes up to an interval after the job
    ran out of work, and a slope that ends there counts that idle time: with the three commits of a
    72,000-reading drain (the former default), that wait was a large part of the span measured. Every
    commit before the last was made with readings still
    waiting, so the slope over those is the job's rate under load (first_to_last_commit_per_s keeps
    the former figure, for the rows measured that way).
    """
    busy = [s for s in samples if s[1] < total]
    if len(busy) < 2:
        raise RuntimeError(f"{len(busy)} commit(s) while the backlog lasted, 2 needed for a rate: raise --readings")
    (t_first, c_first), (t_last, c_last) = busy[0], busy[-1]
    return (c_last - c_first) / (t_last - t_first)


def registered_fleet(stack: StackSettings, seed: int, turbines: int) -> AbstractContextManager[None]:
    sites, fleet = simulator.small_fleet(seed, turbines, EDGE_ID)
    return registry.registered(stack.postgres_dsn, sites, fleet)


def one_run(stack: StackSettings, n: int, turbines: int, seed: int, parallelism: int,
            flink_conf: tuple[str, ...] = (), checkpoint_ms: int = 5_000,
            checkpoint_min_pause_ms: int | None = None, module: str = "flink_jobs.ingest",
            module_args: tuple[str, ...] = (), heartbeats: bool = True, fires_windows: bool = True) -> dict[str, float]:
    """One fresh pipeline: load the backlog through the bridge, measure the baseline, drain it with the job
    (``module``, by default the ingest job; ``module_args`` go to it first); ``heartbeats=False`` loads the
    topic with the bridge's heartbeats off; ``fires_windows=False`` for a job that computes none (no wait for them)."""
    tag = uuid.uuid4().hex[:8]
    names = platform.Names.isolated(tag, kind="bench")
    platform.ensure(stack, names)
    # the fleet in the turbine registry, as a real one is: its readings carry their site (wind.site_agg_1h)
    # and their model (the power-curve rule runs); removed when the run ends, whatever happens
    with registered_fleet(stack, seed, turbines):
        bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic,
                                                  dlq_topic=names.dlq_topic,
                                                  heartbeat_interval_s=None if heartbeats else 0.0)).start()
        try:
            # event time starts half a minute into a minute, so the windows the drain closes do not depend on
            # the clock: every 1-minute window that ends a watermark bound before the last reading must fire
            start_ms = (int(time.time() * 1000) - n // turbines * 1000 - 60_000) // WINDOW_MS * WINDOW_MS + WINDOW_MS // 2
            windows_with_data: set[tuple[str, str, int]] = set()
            last_ms = 0

            def generated() -> Iterator[pb.SensorReading]:
                nonlocal last_ms
                for r in simulator.readings(n, turbines, seed, start_ms=start_ms):
                    windows_with_data.add((r.turbine_id, r.sensor_id, r.ts_unix_ms // WINDOW_MS))
                    last_ms = max(last_ms, r.ts_unix_ms)
                    yield r

            t0 = time.perf_counter()
            report = simulator.send_readings(f"127.0.0.1:{bridge.port}", generated(), batch_size=1000, edge_id=EDGE_ID)
            bridge_rate = report.accepted / (time.perf_counter() - t0)
        finally:
            bridge.stop()
        bound_ms = int(JobSettings.model_fields["watermark_bound_s"].default * 1000)
        windows_expected = sum(1 for _, _, w in windows_with_data if (w + 1) * WINDOW_MS <= last_ms - bound_ms)
        base = baseline_rate(stack, names.raw_topic, report.accepted)
        with tempfile.TemporaryDirectory() as tmp:
            job = IngestJob(stack, names, Path(tmp) / "checkpoints", consumer_group=f"bench-{tag}", job_name=f"bench-{tag}",
                            checkpoint_interval_ms=checkpoint_ms, log_path=Path(tmp) / "job.log", module=module,
                            extra_args=(*module_args, "--parallelism", str(parallelism), *(a for kv in flink_conf for a in ("--flink-conf", kv)),
                                        *(("--checkpoint-min-pause-ms", str(checkpoint_min_pause_ms))
                                          if checkpoint_min_pause_ms is not None else ()))).start()
            try:
                try:
                    job.wait_submitted()
                except JobFailedError:
                    print("".join((Path(tmp) / "job.log").read_text(errors="replace").splitlines(keepends=True)[-40:]), file=sys.stderr)
                    raise
                samples: list[tuple[float, int]] = []
                deadline = time.monotonic() + 900
                while time.monotonic() < deadline:
                    rows = committed_rows(stack, names.readings_table)
                    if rows and (not samples or rows != samples[-1][1]):
                        samples.append((time.perf_counter(), rows))
                    if rows >= report.accepted:
                        break
                    time.sleep(0.5)
                rss = group_rss_mb(job.proc.pid) if job.proc else 0.0
                # none of the backlog is late (one instant per second per turbine, in order): any row here is a
                # reading the watermark overtook while the job caught up (a split wrongly taken for idle)
                late = committed_rows(stack, names.table("late_readings"))
                alerts = committed_rows(stack, names.table("alerts"))
                # fewer would mean a watermark that stopped short (none at all: 0); they may commit a checkpoint later
                windows_deadline = time.monotonic() + (60 if fires_windows else 0)
                while (windows := committed_rows(stack, names.table("turbine_agg_1m"))) < windows_expected \
                        and time.monotonic() < windows_deadline:
                    time.sleep(1)
                chk = sorted((Path(tmp) / "checkpoints").glob("*/chk-*"), key=lambda p: p.stat().st_mtime)
                shared = sum(f.stat().st_size for f in (Path(tmp) / "checkpoints").rglob("*") if f.is_file())
            finally:
                job.stop()
        if not samples or samples[-1][1] < report.accepted:
            raise RuntimeError(f"the job stored {samples[-1][1] if samples else 0} of {report.accepted} readings")
        rate = busy_rate(samples, report.accepted)
        (t_first, c_first), (t_last, c_last) = samples[0], samples[-1]
        return {"job_readings_per_s": rate, "baseline_decode_per_s": base, "ratio": rate / base,
                "first_to_last_commit_per_s": (c_last - c_first) / (t_last - t_first) if t_last > t_first else None,
                "commits": [[round(t - t_first, 3), c] for t, c in samples],
                "bridge_readings_per_s": bridge_rate, "state_bytes_per_turbine": shared / turbines,
                "job_rss_mb": rss, "job_rss_kb_per_turbine": rss * 1024 / turbines, "checkpoints": len(chk),
                "late_readings": late, "alerts": alerts, "turbine_agg_1m_rows": windows,
                "turbine_agg_1m_rows_expected": windows_expected}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.stream_e2e", description=describe(__doc__))
    p.add_argument("--readings", type=int, default=216_000, help="readings loaded through the bridge, then drained (default %(default)s)")
    p.add_argument("--turbines", type=int, default=50, help="turbines, 12 channels each (default %(default)s)")
    p.add_argument("--runs", type=int, default=3, help="fresh pipelines, one after another; medians are reported")
    p.add_argument("--parallelism", type=int, default=1, help="job parallelism (Kafka has 4 partitions)")
    p.add_argument("--flink-conf", action="append", default=[], metavar="KEY=VALUE",
                   help="extra Flink configuration for the job (repeatable)")
    p.add_argument("--checkpoint-ms", type=int, default=5_000,
                   help="the job's checkpoint interval: a commit to every sink each time (default %(default)s)")
    p.add_argument("--checkpoint-min-pause-ms", type=int,
                   help="the job's least pause between checkpoints (its default 1000; 0 with --checkpoint-ms 500)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results file (default %(default)s)")
    args = p.parse_args()
    if args.runs < 1 or args.readings < 1 or args.turbines < 1 or args.checkpoint_ms < 1:
        p.error("--runs, --readings, --turbines and --checkpoint-ms must be at least 1")
    if args.checkpoint_min_pause_ms is not None and args.checkpoint_min_pause_ms < 0:
        p.error("--checkpoint-min-pause-ms must be at least 0")
    try:
        flink_conf = flink_conf_items(args.flink_conf)
    except ValueError as err:
        p.error(str(err))
    stack = StackSettings()
    manager.up(stack)
    runs = []
    for i in range(args.runs):
        r = one_run(stack, args.readings, args.turbines, seed=100 + i, parallelism=args.parallelism, flink_conf=tuple(args.flink_conf),
                   checkpoint_ms=args.checkpoint_ms, checkpoint_min_pause_ms=args.checkpoint_min_pause_ms)
        runs.append(r)
        print(f"run {i + 1}: job {r['job_readings_per_s']:,.0f} readings/s, baseline decode {r['baseline_decode_per_s']:,.0f}/s, "
              f"ratio {r['ratio']:.3f} ({len(r['commits'])} commits; first to last commit "
              f"{r['first_to_last_commit_per_s'] or 0:,.0f}/s), state {r['state_bytes_per_turbine']:,.0f} B/turbine, RSS {r['job_rss_mb']:,.0f} MB",
              flush=True)
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]
              if all(isinstance(r[k], (int, float)) for r in runs)}  # not the commit lists
    result = {"command": "python -m bench.stream_e2e " + " ".join(sys.argv[1:]),
              "readings": args.readings, "turbines": args.turbines, "parallelism": args.parallelism, "flink_conf": flink_conf,
              "checkpoint_ms": args.checkpoint_ms, "checkpoint_min_pause_ms": args.checkpoint_min_pause_ms,
              "job_env": job_environment(),
              "runs": runs, "median": median,
              "host": {"cpus": os.cpu_count(), "python": host_platform.python_version()},
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"median: job {median['job_readings_per_s']:,.0f} readings/s end to end (exactly-once), "
          f"baseline {median['baseline_decode_per_s']:,.0f}/s, ratio {median['ratio']:.3f}; "
          f"state {median['state_bytes_per_turbine']:,.0f} B/turbine; RSS {median['job_rss_mb']:,.0f} MB -> {args.out}")


if __name__ == "__main__":
    main()
