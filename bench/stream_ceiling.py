"""How far this machine is from the 50,000 readings/s target whatever the job's Python does: the ingest job
against its own JVM part alone, in alternating runs on the same backlog size and the same stack.

    python -m bench.stream_ceiling [--readings 216000] [--turbines 50] [--rounds 3] [--shapes job,sql,nopct,dedupe,source]
        [--checkpoint-ms 5000] [--flink-conf KEY=VALUE ...] [--out FILE]

Shapes (bench.ceiling_job says what the last two leave out):
  job     the ingest job, as bench.stream_e2e runs it
  sql     the job's SQL alone: readings decoded in the JVM, the msg_id dedupe, the lateness split, the three
          window aggregations and their Iceberg and Kafka sinks; no Python, no rules, Postgres or Redis
  nopct   the sql shape with averages in place of the windows' values and percentiles (an ablation)
  dedupe  the sql shape without the windows
  source  Kafka to wind.readings, exactly-once, and nothing else

Every run loads a fresh topic through the bridge (heartbeats off: the JVM's Avro format cannot read them, so
the job runs without them too) and drains it with a fresh job; the rate is bench.stream_e2e's busy slope of
the rows committed to wind.readings. Each round runs every shape once, in turn, so a slow spell of this
shared machine falls on all of them. Writes every run, the medians per shape and their ratios to the job's
median to bench/results/stream_ceiling.json, after every run (a failed run loses none before it).
The source shape drains SOURCE_READINGS_FACTOR times the readings: at the others' backlog it made too few
commits under load for a slope.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host_platform
import statistics
import sys
import time
from pathlib import Path

from bench import describe
from bench.stream_e2e import one_run
from flink_jobs.common.settings import flink_conf_items
from stack import manager
from stack.settings import StackSettings

RESULTS = Path(__file__).resolve().parent / "results" / "stream_ceiling.json"
SHAPES = ("job", "sql", "nopct", "dedupe", "source")
TARGET = 50_000
# the source alone drains several times faster than the rest: on the same backlog it made one or two commits
# under load, too few for a slope (a commit comes once a checkpoint), so it gets this many times the readings
SOURCE_READINGS_FACTOR = 4


def shape_run(stack: StackSettings, shape: str, readings: int, turbines: int, seed: int,
              checkpoint_ms: int, flink_conf: tuple[str, ...] = ()) -> dict[str, float]:
    if shape == "job":
        return one_run(stack, readings, turbines, seed, 1, flink_conf, checkpoint_ms=checkpoint_ms, heartbeats=False)
    if shape == "source":
        readings *= SOURCE_READINGS_FACTOR
    return one_run(stack, readings, turbines, seed, 1, flink_conf, checkpoint_ms=checkpoint_ms, heartbeats=False,
                   module="bench.ceiling_job", module_args=("--shape", shape), fires_windows=shape in ("sql", "nopct"))


def summarize(runs: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per shape: the median rate, the median baseline, and the ratio of the median to the job's median."""
    medians = {s: statistics.median(r["job_readings_per_s"] for r in rs) for s, rs in runs.items()}
    job = medians.get("job")
    return {s: {"median_readings_per_s": m,
                "median_baseline_decode_per_s": statistics.median(r["baseline_decode_per_s"] for r in runs[s]),
                "ratio_to_job": m / job if job else None,
                "share_of_target": m / TARGET}
            for s, m in medians.items()}


def parse_shapes(text: str) -> list[str]:
    shapes = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SHAPES]
    if not shapes or unknown:
        raise ValueError(f"--shapes takes a comma-separated list of {', '.join(SHAPES)} (got {text!r})")
    return shapes


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.stream_ceiling", description=describe(__doc__))
    p.add_argument("--readings", type=int, default=216_000, help="readings per run (default %(default)s)")
    p.add_argument("--turbines", type=int, default=50, help="turbines, 12 channels each (default %(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="rounds; each runs every shape once (default %(default)s)")
    p.add_argument("--shapes", default=",".join(SHAPES), help="which shapes, in the order each round runs them "
                                                             "(default %(default)s)")
    p.add_argument("--checkpoint-ms", type=int, default=5_000, help="checkpoint interval of every shape (default %(default)s)")
    p.add_argument("--flink-conf", action="append", default=[], metavar="KEY=VALUE",
                   help="extra Flink configuration for every shape's job (repeatable)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results file (default %(default)s)")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.readings < 1 or args.turbines < 1 or args.checkpoint_ms < 1:
        p.error("--rounds, --readings, --turbines and --checkpoint-ms must be at least 1")
    try:
        shapes = parse_shapes(args.shapes)
        flink_conf = flink_conf_items(args.flink_conf)
    except ValueError as err:
        p.error(str(err))
    stack = StackSettings()
    manager.up(stack)
    runs: dict[str, list[dict[str, float]]] = {s: [] for s in shapes}
    command = "python -m bench.stream_ceiling " + " ".join(sys.argv[1:] if argv is None else argv)
    summary: dict[str, dict[str, float]] = {}
    for i in range(args.rounds):
        for shape in shapes:
            r = shape_run(stack, shape, args.readings, args.turbines, seed=100 + i, checkpoint_ms=args.checkpoint_ms,
                          flink_conf=tuple(args.flink_conf))
            runs[shape].append(r)
            print(f"round {i + 1} {shape}: {r['job_readings_per_s']:,.0f} readings/s "
                  f"(baseline decode {r['baseline_decode_per_s']:,.0f}/s, {len(r['commits'])} commits, "
                  f"1-minute windows {r['turbine_agg_1m_rows']}/{r['turbine_agg_1m_rows_expected']}, late {r['late_readings']})",
                  flush=True)
            summary = summarize({s: rs for s, rs in runs.items() if rs})
            result = {"command": command, "readings": args.readings, "source_readings": args.readings * SOURCE_READINGS_FACTOR,
                      "turbines": args.turbines, "rounds": args.rounds,
                      "shapes": shapes, "checkpoint_ms": args.checkpoint_ms, "flink_conf": flink_conf, "target_readings_per_s": TARGET,
                      "summary": summary, "runs": runs,
                      "host": {"cpus": os.cpu_count(), "python": host_platform.python_version()},
                      "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
    for shape, s in summary.items():
        ratio = f", {s['ratio_to_job']:.2f}x the job" if s["ratio_to_job"] is not None else ""
        print(f"{shape}: median {s['median_readings_per_s']:,.0f} readings/s{ratio}, "
              f"{s['share_of_target']:.0%} of {TARGET:,}/s")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
