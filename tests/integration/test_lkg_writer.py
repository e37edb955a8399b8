"""The last-known-good writer against the real Redis: several turbines' writes in one pipeline (the job's Redis
sink, sinks.LkgSink), each channel guarded by event time within a batch, across batches and against a replay."""

from __future__ import annotations

import uuid

import pytest
import redis

from flink_jobs.ingest.sinks import LkgWriter, lkg_key
from stack.settings import StackSettings

pytestmark = pytest.mark.integration


def stored(client: redis.Redis, prefix: str, turbine: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in client.hgetall(lkg_key(prefix, turbine)).items()}


def test_one_batch_writes_every_turbine_and_never_moves_a_channel_back_in_event_time(stack: StackSettings) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    writer = LkgWriter(stack.redis_url, prefix)
    client = redis.Redis.from_url(stack.redis_url)
    try:
        writer.write_many([
            ("T1", "S1", {"WNAC.WdSpd": (8.5, 2_000), "WTUR.W": (2100.0, 2_000)}),
            ("T2", "S1", {"WNAC.WdSpd": (7.0, 3_000)}),
            # T1 again in the same batch, one channel older and one newer: only the newer may land
            ("T1", "S1", {"WNAC.WdSpd": (1.0, 1_000), "WTUR.W": (2200.0, 4_000)}),
        ])
        t1, t2 = stored(client, prefix, "T1"), stored(client, prefix, "T2")
        assert (t1["WNAC.WdSpd"], t1["WNAC.WdSpd:t"]) == ("8.5", "2000")
        assert (t1["WTUR.W"], t1["WTUR.W:t"], t1["last_event_ms"], t1["site_id"]) == ("2200.0", "4000", "4000", "S1")
        assert (t2["WNAC.WdSpd"], t2["last_event_ms"]) == ("7.0", "3000")

        # a replay after a restore sends older writes again: nothing moves back
        writer.write_many([("T1", "S1", {"WNAC.WdSpd": (8.0, 1_500), "WTUR.W": (2100.0, 2_000)})])
        again = stored(client, prefix, "T1")
        assert {k: again[k] for k in ("WNAC.WdSpd", "WTUR.W", "last_event_ms")} == {
            "WNAC.WdSpd": "8.5", "WTUR.W": "2200.0", "last_event_ms": "4000"}

        # the script is loaded by the pipeline itself when Redis does not hold it (a restarted Redis)
        client.script_flush()
        writer.write_many([("T3", "S2", {"WNAC.WdSpd": (9.5, 5_000)})])
        assert stored(client, prefix, "T3")["WNAC.WdSpd"] == "9.5"
        writer.write_many([])  # nothing waiting: no error, nothing written
    finally:
        client.delete(*(lkg_key(prefix, t) for t in ("T1", "T2", "T3")))
        client.close()
        writer.close()
