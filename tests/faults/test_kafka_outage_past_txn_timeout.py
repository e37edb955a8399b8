"""The broker is down for five times the Kafka sinks' transaction timeout, mid-stream, on the standalone cluster.

What must happen: the job fails loudly, and nothing is lost silently.

- Loud: with the Kafka connector 4.0 a checkpoint cannot complete while the broker is down (each Kafka sink asks
  the broker for its next transactional producer when it snapshots), so checkpoints are declined and the job
  restarts from its last completed checkpoint.
- Not silent: a completed checkpoint whose Kafka transaction was not committed before the broker died is aborted
  by the restarted broker, and its rows are then only in Iceberg. Every such loss must show in the committers'
  ``failedCommittables`` (``anemos cluster committers`` exits 3), and a Kafka topic may lack rows only then.
  ``anemos repair-kafka`` publishes exactly the missing rows again, after which the oracle holds.

The oracle is strict: the job never takes a partition for idle (its default), so none is while the broker is
away, and no on-time reading is judged late when it is back.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anemos import repair
from anemos.cli import app
from anemos.platform import Names
from cluster.flink import FlinkCluster
from reliability import chaos, oracle
from reliability import faults as F
from reliability import scenario as ref
from stack.settings import StackSettings

pytestmark = [pytest.mark.faults, pytest.mark.flink, pytest.mark.integration]

TRANSACTION_TIMEOUT_MS = 15_000
OUTAGE_S = 5 * TRANSACTION_TIMEOUT_MS / 1000  # also past the 60 s a checkpoint waits for a transactional producer
KAFKA_LINES = ("(d) Kafka alerts", "(b) Kafka aggregates")  # what the oracle says when a topic lacks rows
SINKS = {"aggregates_sink", "alerts_sink", "dlq_sink"}  # the job's transactional Kafka sinks


def committers_of_every_sink(cluster: FlinkCluster, job_id: str, timeout_s: float = 60.0) -> dict[str, dict[str, int]]:
    """The committers' metrics once every Kafka sink reports some (a restarted task registers its metrics anew)."""
    deadline = time.monotonic() + timeout_s
    while True:
        committers = cluster.sink_committables(job_id)
        if SINKS <= {s.split("[")[0] for s in committers} or time.monotonic() > deadline:
            return committers


def test_kafka_outage_longer_than_the_transaction_timeout(stack: StackSettings, names: Names, cluster: FlinkCluster,
                                                          tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    sc = ref.build(names.namespace.removeprefix("test_")[:8], seed=13)
    oracle.register_scenario(stack, sc)
    bridge = oracle.local_bridge(stack, names)
    target = f"127.0.0.1:{bridge.port}"
    args = chaos.job_args(names, tmp_path / "checkpoints", tag, 2, 3_000)
    job_id = cluster.submit([*args, "--kafka-transaction-timeout-ms", str(TRANSACTION_TIMEOUT_MS)], tmp_path / "submit.log")
    during: dict[str, int] = {}

    def outage() -> None:
        before = cluster.checkpoints(job_id)["counts"]
        F.kill_kafka(F.Target(stack, cluster, job_id, names.readings_table), None, OUTAGE_S)  # type: ignore[arg-type]
        after = cluster.checkpoints(job_id)["counts"]
        during.update(completed=after["completed"] - before["completed"], failed=after["failed"] - before["failed"])

    hook = oracle.MidStreamKill(stack, names, sc, outage)
    try:
        cluster.wait_running(job_id)
        sent = oracle.send_ontime(stack, names, target, sc, on_batch=hook)
        hook.assert_mid_stream()
        problems = oracle.finish(stack, names, target, sc, sent)
        counts = cluster.checkpoints(job_id)["counts"]
        committers = committers_of_every_sink(cluster, job_id)
        check = CliRunner().invoke(app, ["cluster", "committers", job_id, "--json"])
    finally:
        cluster.cancel(job_id)
        bridge.stop()
    gave_up = sum(m.get("failedCommittables", 0) for m in committers.values())
    print(f"checkpoints during the {OUTAGE_S:.0f}s outage: {during}; overall {counts}; transactions given up: {gave_up}")
    # loud: checkpoints were declined while the broker was down, and the job restarted
    assert during["failed"] >= 1, during
    assert counts["restored"] >= 1, counts
    assert SINKS <= {s.split("[")[0] for s in committers}, committers
    assert check.exit_code == (3 if gave_up else 0), check.output
    # only Kafka may lack rows, and only when a committer gave up on a transaction
    assert all(p.startswith(KAFKA_LINES) for p in problems), "\n".join(problems)
    found = repair.repair(stack, names, list(repair.OUTPUTS), since_ms=0, settle_s=0)
    missing = {r.output: r.missing for r in found if r.missing}
    print(f"oracle before repair: {problems}; repair-kafka published {missing or 'nothing'}")
    assert bool(problems) == bool(missing) and (not missing or gave_up), (problems, missing, committers)
    assert oracle.verify(stack, names, sc, sent) == []
