"""The last-known-good writer on the real Redis: staged turbines go in one pipeline, each once with its newest
values, guarded by event time."""

from __future__ import annotations

import redis

import pytest

from anemos.platform import Names
from flink_jobs.ingest.sinks import LkgWriter, lkg_key
from stack.settings import StackSettings

pytestmark = pytest.mark.integration


def test_staged_turbines_reach_redis_in_one_flush_and_never_go_back_in_event_time(
        stack: StackSettings, names: Names) -> None:
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    writer = LkgWriter(stack.redis_url, names.redis_prefix)
    t1, t2 = lkg_key(names.redis_prefix, "T1"), lkg_key(names.redis_prefix, "T2")
    try:
        writer.stage("T1", "S1", {"WNAC.WdSpd": (8.5, 2_000), "WTUR.W": (2100.0, 2_000)})
        writer.stage("T2", "S1", {"WNAC.WdSpd": (6.0, 3_000)})
        assert writer.staged == 2
        assert not client.exists(t1, t2)  # nothing sent before the flush

        writer.flush()
        assert writer.staged == 0
        assert client.hget(t1, "WNAC.WdSpd") == "8.5" and client.hget(t1, "WTUR.W") == "2100.0"
        assert client.hget(t1, "last_event_ms") == "2000" and client.hget(t2, "WNAC.WdSpd") == "6.0"

        # a turbine staged by several instants is one call with each channel's newest value; a replayed, older
        # value staged after a newer one does not win, in the stage or in Redis
        writer.stage("T1", "S1", {"WNAC.WdSpd": (9.9, 4_000), "WTUR.W": (2200.0, 4_000)})
        writer.stage("T1", "S1", {"WNAC.WdSpd": (1.0, 1_000)})
        writer.stage("T1", "S1", {"WTUR.W": (2300.0, 5_000)})
        assert writer.staged == 1
        writer.flush()
        assert client.hget(t1, "WNAC.WdSpd") == "9.9" and client.hget(t1, "WNAC.WdSpd:t") == "4000"
        assert client.hget(t1, "WTUR.W") == "2300.0" and client.hget(t1, "last_event_ms") == "5000"
        writer.stage("T1", "S1", {"WTUR.W": (1.0, 1_000)})  # older than Redis holds: the script keeps the newer
        writer.flush()
        assert client.hget(t1, "WTUR.W") == "2300.0" and client.hget(t1, "last_event_ms") == "5000"

        writer.flush()  # nothing staged: no call
        assert writer.staged == 0
    finally:
        client.delete(t1, t2)
        writer.close()
        client.close()
