"""The whole path against the reference model: bridge -> Kafka -> job -> Iceberg, Postgres, Redis, Kafka."""

import dataclasses
import json
import uuid
from pathlib import Path

import pytest

from anemos import repair, restate
from anemos.platform import Names
from edge_bridge import topics
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from stack.settings import StackSettings
from reliability import oracle
from reliability.kafka_read import read_all
from reliability import scenario as ref
from reliability.pipeline import new_job

pytestmark = [pytest.mark.flink, pytest.mark.integration]


def run_scenario(stack: StackSettings, names: Names, tmp_path: Path, *job_args: str) -> tuple[ref.Scenario, list[str]]:
    """The scenario through the bridge and a job started with ``job_args``: the oracle's problems (none: every
    sink holds what the reference model computes)."""
    sc = ref.build(names.namespace.removeprefix("test_")[:8])
    oracle.register_scenario(stack, sc)
    bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic,
                                              dlq_topic=names.dlq_topic)).start()
    job = new_job(stack, names, tmp_path, extra_args=("--loss-after-ms", str(ref.LOSS_AFTER_MS), *job_args)).start()
    target = f"127.0.0.1:{bridge.port}"
    try:
        job.wait_submitted()
        sent = oracle.send_ontime(stack, names, target, sc)
        return sc, oracle.finish(stack, names, target, sc, sent)
    finally:
        job.stop()
        bridge.stop()


def test_every_sink_equals_the_reference_model(stack: StackSettings, names: Names, tmp_path: Path) -> None:
    sc, problems = run_scenario(stack, names, tmp_path)
    assert problems == []
    hot_rows_commit_in_batches(stack, sc)
    repair_republishes_what_kafka_lost(stack, names)
    restate_recomputes_the_windows_late_readings_touched(stack, names, sc)


def test_every_sink_equals_the_reference_model_with_direct_windows(
        stack: StackSettings, names: Names, tmp_path: Path) -> None:
    """The direct window plan (every window reads the readings; the plan of deployments older than the plans):
    the same rows in every sink. The default run above is the cascade plan's."""
    _sc, problems = run_scenario(stack, names, tmp_path, "--window-plan", "direct")
    assert problems == []


def hot_rows_commit_in_batches(stack: StackSettings, sc: ref.Scenario) -> None:
    """The job commits the hot rows of a flush period in one transaction, not one each: the rows' xmin (the id of
    the transaction that wrote them) is shared. Before the restate, which rewrites some 10-minute rows."""
    for table in ("turbine_agg_1m", "turbine_agg_10m"):
        ((rows, transactions),) = oracle._pg(
            stack, f"SELECT count(*), count(DISTINCT xmin::text) FROM {table} WHERE turbine_id = ANY(%s)",  # noqa: S608
            list(sc.turbine_ids))
        assert rows > 0 and transactions * 4 <= rows, f"{table}: {rows} rows written by {transactions} transactions"


def _by_key(output: repair.Output, messages: list) -> dict:  # type: ignore[type-arg]
    return {output.natural_key(json.loads(m.value())): (m.key(), json.loads(m.value())) for m in messages}


def repair_republishes_what_kafka_lost(stack: StackSettings, names: Names) -> None:
    """`anemos repair-kafka`: with Kafka equal to Iceberg it finds nothing to do; pointed at empty topics (Kafka
    lost every transaction) it publishes each Iceberg row once, as the record the job itself wrote; run again,
    it publishes nothing more."""
    outputs = list(repair.OUTPUTS)
    intact = repair.repair(stack, names, outputs, since_ms=0, settle_s=0, dry_run=True)
    assert [(r.output, r.missing) for r in intact] == [(o, 0) for o in outputs]
    assert all(r.iceberg_rows > 0 for r in intact), intact
    tag = uuid.uuid4().hex[:6]
    lost = dataclasses.replace(names, aggregates_topic=f"{names.aggregates_topic}.lost-{tag}",
                               alerts_topic=f"{names.alerts_topic}.lost-{tag}", dlq_topic=f"{names.dlq_topic}.lost-{tag}")
    topics.ensure_topics(stack.kafka_bootstrap, topics.specs(raw=f"{names.raw_topic}.lost-{tag}", dlq=lost.dlq_topic,
                                                             aggregates=lost.aggregates_topic, alerts=lost.alerts_topic,
                                                             commands=f"{names.commands_topic}.lost-{tag}",
                                                             freezes=f"{names.freezes_topic}.lost-{tag}"))
    done = repair.repair(stack, lost, outputs, since_ms=0, settle_s=0)
    assert [(r.output, r.produced) for r in done] == [(r.output, r.iceberg_rows) for r in intact]
    for r in intact:
        output = repair.OUTPUTS[r.output]
        written_by_job = _by_key(output, read_all(stack.kafka_bootstrap, output.topic(names), timeout_s=30))
        republished = _by_key(output, read_all(stack.kafka_bootstrap, output.topic(lost), expected=r.iceberg_rows))
        assert len(republished) == r.iceberg_rows
        assert {k: written_by_job[k] for k in republished} == republished, f"{r.output}: not the record the job wrote"
    again = repair.repair(stack, lost, outputs, since_ms=0, settle_s=0)
    assert [r.produced for r in again] == [0, 0, 0]


def restate_recomputes_the_windows_late_readings_touched(stack: StackSettings, names: Names, sc: ref.Scenario) -> None:
    """`anemos restate`: every 10-minute window a late reading fell in gets a new version, computed from on-time
    and late readings together, in Iceberg (appended), Postgres (upserted) and on Kafka; a second run does
    nothing."""
    keys = ["turbine_id", "sensor_id", "window_start"]
    everything = ref.windows(ref.frame(sc.ontime + sc.late), 600_000, ["turbine_id", "sensor_id"])
    touched = {(r.turbine_id, r.sensor_id, r.ts_unix_ms - r.ts_unix_ms % 600_000) for r in sc.late}
    want = everything[[k in touched for k in zip(everything.turbine_id, everything.sensor_id, everything.window_start)]]
    assert len(want) == len(touched) > 0
    report = restate.restate(stack, names, since_ms=0, settle_s=0)
    assert (report.late_readings, report.windows, report.restated) == (len(sc.late), len(touched), len(touched)), report
    # Iceberg: the newest version of each window equals the reference over on-time and late readings
    ice = oracle._scan(stack, names, "turbine_agg_10m", "turbine_id", sc.turbine_ids)
    ice = ice.assign(window_start=[oracle._ms(t) for t in ice.window_start])
    newest = ice.sort_values("version").drop_duplicates(keys, keep="last")
    got = {(r["turbine_id"], r["sensor_id"], r["window_start"]): r for r in newest.to_dict("records")
           if (r["turbine_id"], r["sensor_id"], r["window_start"]) in touched}
    assert oracle._compare("restated Iceberg", want, got, keys) == []
    assert all(got[k]["version"] == got[k]["sample_count"] for k in got)
    # Postgres: the hot row moved up to the new version
    rows = oracle._pg(stack, f"SELECT {', '.join([*keys, *oracle.STATS])} FROM turbine_agg_10m WHERE turbine_id = ANY(%s)",
                      list(sc.turbine_ids))
    pg = {(r[0], r[1], oracle._ms(r[2])): dict(zip(oracle.STATS, r[3:])) for r in rows}
    assert oracle._compare("restated Postgres", want, {k: pg[k] for k in touched}, keys) == []
    # Kafka: each new version once
    output = repair.OUTPUTS["aggregates"]
    on_kafka = [json.loads(m.value()) for m in read_all(stack.kafka_bootstrap, names.aggregates_topic, timeout_s=30)]
    versions = {(a["turbine_id"], a["sensor_id"], a["window_start"], a["version"]) for a in on_kafka if a["grain"] == "10m"}
    for k, row in got.items():
        assert (k[0], k[1], repair.flink_timestamp(row["window_start"] * 1000), row["version"]) in versions
    assert len(on_kafka) == len({output.natural_key(a) for a in on_kafka})
    again = restate.restate(stack, names, since_ms=0, settle_s=0)
    assert (again.restated, again.unchanged) == (0, len(touched)), again
