"""Where a running stream job's Python worker spends its bundles: py-spy samples of the worker, summed by the
job's own function each sample is in (the decoder, the rules, the Postgres sink...) or, outside them, by the
PyFlink or Beam frame it waits or works in.

    python -m bench.python_profile [--seconds 45] [--rate 50] [--pid PID] [--raw FILE] [--out FILE] [--json]

Run it beside a job, e.g. a bench.stream_e2e run once the job is draining. It attaches py-spy (a dev dependency)
to the worker (the process running ``pyflink.fn_execution.beam.beam_boot``; --pid picks another) for --seconds,
keeps py-spy's raw stacks (--raw), and counts only the samples inside Beam's ``process_bundle``: the time the
worker spends on elements and timers, not its idle gRPC threads. Shares are of those samples; a function's share
includes what it calls. ``--summarize FILE`` reads raw stacks saved before instead of sampling.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench import describe

WORKER = "pyflink.fn_execution.beam.beam_boot"
BUNDLE = "BundleProcessor.process_bundle"  # Beam's frame around every bundle of elements and timers
# the job's own code: a sample in one of these is charged to the outermost such frame
OWN = ("flink_jobs/", "udfs/")
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _frame(raw: str) -> tuple[str, str]:
    m = _FRAME.match(raw)
    return (m["func"], m["file"]) if m else (raw, "")


def _own(path: str) -> str | None:
    """The path from the project's package on (flink_jobs/ingest/sinks.py), or None for a library's file."""
    for package in OWN:
        at = path.find(package)
        if at >= 0 and "site-packages" not in path:
            return path[at:]
    return None


def summarize(lines: Iterable[str], top: int = 25) -> dict[str, Any]:
    """py-spy raw lines ("frame;frame;... count", outermost first) -> the bundle samples and their shares."""
    by: collections.Counter[str] = collections.Counter()
    total = bundle = 0
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        starts = [i for i, f in enumerate(frames) if _frame(f)[0] == BUNDLE]
        if not starts:
            continue
        bundle += n
        inner = [_frame(f) for f in frames[starts[0] + 1:]]
        own = next(((func, at) for func, path in inner if (at := _own(path))), None)
        if own:
            key = f"{own[0]} ({own[1]})"
        else:  # PyFlink or Beam alone: its innermost two frames say what it was doing
            key = "outside the job's code: " + " > ".join(func for func, _ in inner[-2:])
        by[key] += n
    shares = [{"where": k, "samples": v, "share": round(v / bundle, 4)} for k, v in by.most_common(top)]
    return {"samples": total, "bundle_samples": bundle, "by_function": shares}


def worker_pid() -> int | None:
    out = subprocess.run(["pgrep", "-f", WORKER], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.python_profile", description=describe(__doc__))
    p.add_argument("--seconds", type=int, default=45, help="how long to sample (default %(default)s)")
    p.add_argument("--rate", type=int, default=50, help="samples per second (default %(default)s)")
    p.add_argument("--pid", type=int, help="the Python worker's pid (default: the job's, found by its command line)")
    p.add_argument("--raw", type=Path, help="keep py-spy's raw stacks in this file")
    p.add_argument("--summarize", type=Path, metavar="FILE", help="summarize raw stacks saved before; no sampling")
    p.add_argument("--out", type=Path, help="write the summary as JSON to this file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.rate <= 0:
        p.error(f"--seconds and --rate must be above 0 (got {args.seconds} and {args.rate})")
    if args.summarize:
        if not args.summarize.is_file():
            p.error(f"--summarize: no file {args.summarize}")
        raw = args.summarize
    else:
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(spy).exists():
            print("python_profile: py-spy is not installed (pip install -e '.[dev]')", file=sys.stderr)
            return 1
        pid = args.pid or worker_pid()
        if pid is None:
            print("python_profile: no running job's Python worker found (start a job first)", file=sys.stderr)
            return 1
        raw = args.raw or Path(tempfile.mkstemp(prefix="py-spy-", suffix=".txt")[1])
        print(f"sampling pid {pid} for {args.seconds} s at {args.rate}/s -> {raw}", file=sys.stderr, flush=True)
        subprocess.run([spy, "record", "-p", str(pid), "-d", str(args.seconds), "-r", str(args.rate),
                        "--format", "raw", "-o", str(raw)], check=True, capture_output=True)
    with raw.open() as f:
        summary = summarize(f)
    summary["raw"] = str(raw)
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['bundle_samples']} of {summary['samples']} samples inside bundles")
        for row in summary["by_function"]:
            print(f"  {100 * row['share']:5.1f} %  {row['where'][:150]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
