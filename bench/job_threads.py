"""Where a running stream job's CPU goes: cores per thread of the job's JVM and Python workers, and each
operator's busy and back-pressured time from Flink's REST API, every interval.

    python -m bench.job_threads --rest-port 18099 [--interval 10] [--samples 12] [--out FILE] [--json] [--rocksdb]

Run it beside a job that serves its REST API, e.g. a bench with ``--flink-conf rest.port=18099``. CPU comes
from ``/proc/<pid>/task/<tid>/stat`` deltas (user + system), each thread's own, then summed by name (Flink
names its task threads after their operators; the JIT's are "C2 CompilerThre" and "C1 CompilerThre").
With ``--rocksdb`` each sample also holds the RocksDB native metrics the job reports, per operator (the job
enables each with ``--flink-conf state.backend.rocksdb.metrics.<name>=true``, e.g. total-sst-files-size,
num-running-compactions, estimate-pending-compaction-bytes): which operator's state grows and compacts.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import describe, rest_json

TICK = os.sysconf("SC_CLK_TCK")
JOB_PROCESSES = "org.apache.flink.client.python|pyflink.fn_execution|beam_boot|flink_jobs.ingest"


def job_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-f", JOB_PROCESSES], capture_output=True, text=True).stdout
    return [int(p) for p in out.split() if int(p) != os.getpid()]


def cpu_seconds_by_task() -> dict[tuple[int, str], tuple[str, float]]:
    """CPU seconds so far per task (pid, tid) of every job process, each with its name: "jvm:<thread name>" or
    "py:<thread name>"."""
    tasks: dict[tuple[int, str], tuple[str, float]] = {}
    for pid in job_pids():
        try:
            exe = Path(f"/proc/{pid}/cmdline").read_text().split("\0")[0]
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:  # the process ended between pgrep and here
            continue
        kind = "jvm" if exe.endswith("java") else "py"
        for tid in tids:
            try:
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            tasks[(pid, tid)] = (f"{kind}:{name}", (int(fields[11]) + int(fields[12])) / TICK)  # utime + stime
    return tasks


def cpu_seconds_by_thread() -> collections.Counter[str]:
    """CPU seconds so far, per "jvm:<thread name>" or "py:<thread name>" summed over every job process."""
    total: collections.Counter[str] = collections.Counter()
    for name, seconds in cpu_seconds_by_task().values():
        total[name] += seconds
    return total


def cores_by_thread(before: dict[tuple[int, str], tuple[str, float]],
                    after: dict[tuple[int, str], tuple[str, float]], seconds: float) -> dict[str, float]:
    """Cores per thread name between two ``cpu_seconds_by_task`` readings ``seconds`` apart, busiest first. Each
    task counts its own gain (one started meanwhile from 0), so a process that ended takes nothing away from the
    threads of the same name that go on (the Python workers' threads share their names)."""
    cores: collections.Counter[str] = collections.Counter()
    for task, (name, spent) in after.items():
        gained = spent - before.get(task, (name, 0.0))[1]
        if gained > 0:
            cores[name] += gained / seconds
    return {name: round(c, 3) for name, c in cores.most_common()}


def running_job(port: int) -> tuple[Callable[[str], Any], str, list[dict[str, Any]]] | None:
    """A GET of the job's REST API on ``port``, the running job's id and its vertices; None when no job runs."""

    def get(path: str) -> Any:
        return rest_json(f"http://127.0.0.1:{port}", path, timeout_s=2)

    running = [j["id"] for j in get("/jobs")["jobs"] if j["status"] == "RUNNING"]
    if not running:
        return None
    return get, running[0], get(f"/jobs/{running[0]}")["vertices"]


def operator_load(port: int) -> list[dict[str, Any]]:
    """Busy and back-pressured ms per second of each vertex of the running job (max over subtasks)."""
    try:
        job = running_job(port)
        if job is None:
            return []
        get, job_id, vertices = job
        out = []
        for v in vertices:
            metrics = get(f"/jobs/{job_id}/vertices/{v['id']}/subtasks/metrics"
                          "?get=busyTimeMsPerSecond,backPressuredTimeMsPerSecond")
            m = {x["id"]: x.get("max") for x in metrics}
            out.append({"operator": v["name"], "busy_ms_per_s": m.get("busyTimeMsPerSecond"),
                        "backpressured_ms_per_s": m.get("backPressuredTimeMsPerSecond")})
        return out
    except OSError:  # no REST API (yet): CPU figures alone
        return []


def rocksdb_metrics(port: int) -> dict[str, dict[str, float]]:
    """The RocksDB native metrics of each operator (vertex) of the running job that reports any, summed over its
    subtasks: {vertex name: {metric id: value}}. The ids name the state (column family) and the property."""
    try:
        job = running_job(port)
        if job is None:
            return {}
        get, job_id, vertices = job
        out: dict[str, dict[str, float]] = {}
        for v in vertices:
            path = f"/jobs/{job_id}/vertices/{v['id']}/subtasks/metrics"
            ids = [m["id"] for m in get(path) if "rocksdb" in m["id"]]
            values: dict[str, float] = {}
            for i in range(0, len(ids), 25):  # a few ids per request: the query string stays short
                query = urllib.parse.quote(",".join(ids[i:i + 25]), safe=",")
                values.update({m["id"]: m.get("sum") for m in get(f"{path}?get={query}")})
            if values:
                out[v["name"]] = values
        return out
    except OSError:
        return {}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.job_threads", description=describe(__doc__))
    p.add_argument("--rest-port", type=int, default=18099, help="the job's Flink REST port (default %(default)s)")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between samples (default %(default)s)")
    p.add_argument("--samples", type=int, default=0, help="stop after this many samples (default 0: until Ctrl-C)")
    p.add_argument("--out", type=Path, help="also append each sample as a JSON line to this file")
    p.add_argument("--json", action="store_true", help="print samples as JSON lines instead of a table")
    p.add_argument("--rocksdb", action="store_true",
                   help="also sample the RocksDB native metrics the job reports, per operator")
    args = p.parse_args(argv)
    if args.interval <= 0:
        p.error(f"--interval must be above 0 (got {args.interval})")
    if not job_pids():
        print("job_threads: no running stream job found (start one, e.g. a bench with --flink-conf rest.port=...)",
              file=sys.stderr)
        return 1
    prev, t0, taken = cpu_seconds_by_task(), time.monotonic(), 0
    try:
        while not args.samples or taken < args.samples:
            time.sleep(args.interval)
            cur, t1 = cpu_seconds_by_task(), time.monotonic()
            cores = cores_by_thread(prev, cur, t1 - t0)
            sample: dict[str, Any] = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "total_cores": round(sum(cores.values()), 3),
                      "cores_by_thread": cores,
                      "operators": operator_load(args.rest_port)}
            if args.rocksdb:
                sample["rocksdb"] = rocksdb_metrics(args.rest_port)
            taken += 1
            if args.out:
                with args.out.open("a") as f:
                    f.write(json.dumps(sample) + "\n")
            if args.json:
                print(json.dumps(sample), flush=True)
            else:
                print(f"{sample['at']}  {sample['total_cores']:.2f} cores", flush=True)
                for name, c in list(sample["cores_by_thread"].items())[:14]:
                    if c >= 0.02:
                        print(f"  {c:5.2f}  {name}")
                for op in sample["operators"]:
                    print(f"  busy {op['busy_ms_per_s']} ms/s  back-pressured {op['backpressured_ms_per_s']} ms/s  "
                          f"{op['operator'][:70]}")
                for operator, values in sample.get("rocksdb", {}).items():
                    for metric, value in sorted(values.items(), key=lambda kv: -(kv[1] or 0))[:6]:
                        print(f"  rocksdb {value:>14}  {metric[-60:]}  {operator[:40]}")
            prev, t0 = cur, t1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
