"""What one instant of a turbine costs the rules in Python, without Flink: PyFlink's decoding of the operator's
input row, and TurbineRules.process_element with its state written through PyFlink's own coder.

    python -m bench.rules_instant [--instants 5000] [--runs 5] [--out FILE] [--json]

An instant is one turbine's 12 readings of one event time (the simulated fleet's shape). The input row is
decoded in two shapes, in the same run: the job's (sensor ids and types joined by commas, the values as an array;
sql/flink/rule_batches.sql) and the array of rows it replaced (the baseline). The rules run on the job's shape
with stand-ins for Flink's runtime: a value state that caches its value and encodes every update with
TURBINE_STATE's coder (the bytes the JVM keeps; once per instant, as in a live run's bundles), timers that are only collected, and a registry that knows the turbine.
Medians of --runs runs, in microseconds per instant.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from pyflink.common import Row, Types
from pyflink.fn_execution import coders

from bench import describe
from flink_jobs.ingest.registry import TurbineInfo
from flink_jobs.ingest.sinks import LkgWriter
from flink_jobs.ingest.turbine import TurbineRules
from flink_jobs.ingest.types import TURBINE_STATE, D, L, S
from udfs.channels import CHANNELS
from udfs.power_curve import MODELS

RULE_BATCH = Types.ROW_NAMED(["turbine_id", "event_time_ms", "sensor_ids", "sensor_types", "sensor_values"],
                             [S, L, S, S, Types.OBJECT_ARRAY(D)])
# the input before: ARRAY_AGG(ROW(sensor_id, sensor_type, value))
NESTED_BATCH = Types.ROW_NAMED(["turbine_id", "event_time_ms", "readings"],
                               [S, L, Types.OBJECT_ARRAY(Types.ROW_NAMED(["sensor_id", "sensor_type", "value"], [S, S, D]))])
RESULTS = Path(__file__).parent / "results" / "rules_instant.json"


def coder(type_info: Any) -> Any:
    """PyFlink's own (Cython) coder of a type, the one its Python operators encode and decode with."""
    return coders.from_type_info(type_info).get_impl()


class StoredState:
    """A ValueState as PyFlink keeps it: the value object cached for reads, and every update encoded with
    TURBINE_STATE's coder (the bytes the JVM stores; PyFlink sends them at the bundle's end, at most once per key).
    ``restore()`` drops the cache, so the next read decodes the stored bytes, as after a restore."""

    def __init__(self) -> None:
        self._coder = coder(TURBINE_STATE)
        self._bytes: bytes | None = None
        self._cached: Any = None

    def value(self) -> Any:
        if self._cached is None and self._bytes is not None:
            self._cached = self._coder.decode(self._bytes)
        return self._cached

    def update(self, value: Row) -> None:
        self._cached, self._bytes = value, self._coder.encode(value)

    def restore(self) -> None:
        self._cached = None


class Timers:
    def __init__(self, now_ms: int) -> None:
        self.now_ms, self.event, self.processing = now_ms, set[int](), set[int]()

    def register_event_time_timer(self, t: int) -> None:
        self.event.add(t)

    def register_processing_time_timer(self, t: int) -> None:
        self.processing.add(t)

    def current_processing_time(self) -> int:
        return self.now_ms


class Context:
    def __init__(self, now_ms: int = 1_000_500) -> None:
        self.timers = Timers(now_ms)

    def timer_service(self) -> Timers:
        return self.timers


class Counter:
    def inc(self, n: int = 1) -> None:
        pass


class Registry:
    def __init__(self, model: str = "AN-3.6-130") -> None:
        self._model = MODELS[model]

    def get(self, turbine_id: str) -> TurbineInfo:
        return TurbineInfo(turbine_id, "S1", "north-sea", self._model, self._model.rated_kw, False)


def offline_rules(loss_after_ms: int = 120_000) -> TurbineRules:
    """TurbineRules as open() leaves it, with the stand-ins above in place of Flink's state, metrics and registry,
    and its real last-known-good writer, which only stages (nothing is flushed, so no Redis is needed)."""
    rules = TurbineRules(dsn="", redis_url="", redis_prefix="", loss_after_ms=loss_after_ms, registry_refresh_s=30.0)
    rules._state, rules._registry, rules._alerts, rules._judged = StoredState(), Registry(), Counter(), Counter()
    rules._writer, rules._lkg_batched = LkgWriter("redis://127.0.0.1:1/0", "bench"), True
    return rules


def fleet_instants(count: int, seed: int = 7) -> list[tuple[int, list[tuple[str, str, float]]]]:
    """One turbine's instants, 12 channels each, values within each channel's range."""
    rnd = random.Random(seed)
    kinds = sorted(CHANNELS)[:12]
    return [(1_700_000_000_000 + i * 1_000,
             [(f"{k}.1", k, rnd.uniform(CHANNELS[k].low, CHANNELS[k].high)) for k in kinds]) for i in range(count)]


def batch_row(event_time: int, readings: list[tuple[str, str, float]]) -> Row:
    return Row(turbine_id="T1", event_time_ms=event_time, sensor_ids=",".join(r[0] for r in readings),
               sensor_types=",".join(r[1] for r in readings), sensor_values=[r[2] for r in readings])


def nested_row(event_time: int, readings: list[tuple[str, str, float]]) -> Row:
    return Row(turbine_id="T1", event_time_ms=event_time,
               readings=[Row(sensor_id=s, sensor_type=k, value=v) for s, k, v in readings])


def per_instant_us(fn: Any, items: list[Any]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1e6


def one_run(instants: list[tuple[int, list[tuple[str, str, float]]]]) -> dict[str, float]:
    job, nested = coder(RULE_BATCH), coder(NESTED_BATCH)
    job_bytes = [job.encode(batch_row(t, r)) for t, r in instants]
    nested_bytes = [nested.encode(nested_row(t, r)) for t, r in instants]
    rules, ctx = offline_rules(), Context()
    rows = [batch_row(t, r) for t, r in instants]
    return {
        "decode_input_us": per_instant_us(job.decode, job_bytes),
        "decode_nested_input_us": per_instant_us(nested.decode, nested_bytes),
        "process_element_us": per_instant_us(lambda row: list(rules.process_element(row, ctx)), rows),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.rules_instant", description=describe(__doc__))
    p.add_argument("--instants", type=int, default=5_000, help="instants per run (default %(default)s)")
    p.add_argument("--runs", type=int, default=5, help="runs; medians are reported (default %(default)s)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results file (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)
    if args.instants < 1 or args.runs < 1:
        p.error(f"--instants and --runs must be at least 1 (got {args.instants} and {args.runs})")
    instants = fleet_instants(args.instants)
    runs = [one_run(instants) for _ in range(args.runs)]
    medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    result = {"command": " ".join(["python -m bench.rules_instant", *(argv if argv is not None else sys.argv[1:])]),
              "instants": args.instants, "readings_per_instant": 12, "runs": runs, "median": medians,
              "nested_over_job_decode": medians["decode_nested_input_us"] / medians["decode_input_us"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    if args.json:
        print(json.dumps(result))
    else:
        for i, r in enumerate(runs, 1):
            print(f"run {i}: input decode {r['decode_input_us']:.1f} us (array of rows {r['decode_nested_input_us']:.1f} us), "
                  f"process_element {r['process_element_us']:.1f} us per instant")
        print(f"median: input decode {medians['decode_input_us']:.1f} us against {medians['decode_nested_input_us']:.1f} us "
              f"for an array of rows ({result['nested_over_job_decode']:.1f}x), process_element "
              f"{medians['process_element_us']:.1f} us per instant of 12 readings -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
