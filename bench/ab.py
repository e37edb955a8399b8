"""Interleaved A/B of bench.stream_e2e (drain rate) or bench.stream_latency (live latency): the working tree
against files taken from another commit.

Rounds alternate: one fresh pipeline with FILE(s) as they are at --against, then one with them as they are
in the working tree, and so on, so that the machine's drift falls on both sides alike. Every run is a
`python -m bench.<bench> --runs 1`; the files are put back whatever happens. Writes the runs, the
medians and the ratio of the medians (B over A: the drain rate, or the median alert latency) to
bench/results/experiments/<name>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import describe

ROOT = Path(__file__).resolve().parent.parent
# per bench: the figures whose medians are reported, the one B is compared to A by, and that ratio's name
BENCHES = {
    "stream_e2e": (("job_readings_per_s", "ratio", "late_readings"), "job_readings_per_s", "b_over_a_median_rate"),
    "stream_latency": (("alert_p50_s", "alert_p99_s", "window_p50_s", "window_p99_s", "alerts_seen"), "alert_p50_s",
                       "b_over_a_median_alert_p50"),
}


def git_show(commit: str, path: str) -> bytes:
    try:
        return subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, check=True).stdout
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"error: {path} at {commit}: {e.stderr.decode().strip()}") from None


def one_run(bench: str, extra: list[str], out: Path) -> dict[str, Any]:
    subprocess.run([sys.executable, "-m", f"bench.{bench}", "--runs", "1", "--out", str(out), *extra], cwd=ROOT, check=True)
    result = json.loads(out.read_text())
    if bench == "stream_e2e":
        return {**result["runs"][0], "measured_at": result["measured_at"]}
    run = result["per_run"][0]
    alerts, windows = run["alerts"], run["window_close_to_postgres"]
    return {"alert_p50_s": alerts["p50_s"], "alert_p99_s": alerts["p99_s"], "alerts_seen": alerts["alerts_seen"],
            "window_p50_s": windows["p50_s"], "window_p99_s": windows["p99_s"], "run": run,
            "measured_at": result["measured_at"]}


def summary(runs: list[dict[str, Any]], medians: tuple[str, ...]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in medians if all(r.get(k) is not None for r in runs)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=describe(__doc__))
    p.add_argument("files", nargs="+", metavar="FILE", help="paths in the repository to take from --against")
    p.add_argument("--against", required=True, metavar="COMMIT", help="the commit the A side's files come from")
    p.add_argument("--rounds", type=int, default=3, help="rounds of one A run and one B run (default %(default)s)")
    p.add_argument("--name", required=True, help="results file name under bench/results/experiments/")
    p.add_argument("--bench", choices=sorted(BENCHES), default="stream_e2e",
                   help="the bench each run is: the drain rate or the live latency (default %(default)s)")
    p.add_argument("--bench-arg", action="append", default=[], metavar="ARG",
                   help="passed on to the bench, e.g. --bench-arg=--readings=36000 or --bench-arg=--rate=4968; repeatable")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    mine = {f: (ROOT / f).read_bytes() for f in args.files}
    theirs = {f: git_show(args.against, f) for f in args.files}
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    sides: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
    with tempfile.TemporaryDirectory() as tmp:
        try:  # the files go back on any exit, Ctrl-C included
            for i in range(args.rounds):
                for side, content in (("a", theirs), ("b", mine)):
                    for f, data in content.items():
                        (ROOT / f).write_bytes(data)
                    print(f"round {i + 1}/{args.rounds}: {side} ({args.against if side == 'a' else 'working tree'})", flush=True)
                    sides[side].append(one_run(args.bench, args.bench_arg, Path(tmp) / f"{side}{i}.json"))
        except subprocess.CalledProcessError as e:
            print(f"error: a bench run failed (exit {e.returncode}); the files are back as they were", file=sys.stderr)
            return 1
        finally:
            for f, data in mine.items():
                (ROOT / f).write_bytes(data)
    medians, compared, ratio = BENCHES[args.bench]
    a, b = summary(sides["a"], medians), summary(sides["b"], medians)
    result = {
        "command": "python -m bench.ab " + " ".join(sys.argv[1:] if argv is None else argv),
        "bench": args.bench,
        "files": args.files,
        "a": {"files_from": args.against, "runs": sides["a"], "median": a},
        "b": {"files_from": f"working tree at {head}", "runs": sides["b"], "median": b},
        ratio: b[compared] / a[compared] if a.get(compared) and b.get(compared) is not None else None,
    }
    out = ROOT / "bench" / "results" / "experiments" / f"{args.name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"a": a, "b": b, ratio: result[ratio]}, indent=2))
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
