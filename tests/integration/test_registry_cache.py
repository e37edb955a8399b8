"""The job's view of the turbine registry follows Postgres while it runs, and survives Postgres hiccups."""

import uuid

import psycopg
import pytest

from edge_bridge.registry import Site, Turbine, deregister, register, registered
from flink_jobs.ingest.registry import RegistryCache
from stack.settings import StackSettings

pytestmark = pytest.mark.integration


def test_enrichment_follows_registry_changes_without_a_restart(stack: StackSettings) -> None:
    tag = uuid.uuid4().hex[:8]
    a, b = Site(f"A-{tag}", "A", "north-sea", 54.0, 7.0), Site(f"B-{tag}", "B", "baltic", 55.0, 13.0)
    turbine = Turbine(f"R{tag}", a.site_id, "AN-3.6-130", 54.0, 7.0, "edge-reg")
    register(stack.postgres_dsn, [a, b], [turbine])
    cache = RegistryCache(stack.postgres_dsn, refresh_s=0.0)  # reload on every lookup
    info = cache.get(turbine.turbine_id)
    assert info is not None and (info.site_id, info.region, info.model.model, info.protected) == (a.site_id, "north-sea", "AN-3.6-130", False)
    assert info.model.rated_kw == 3_600.0 and len(info.model.curve) > 10

    register(stack.postgres_dsn, [a, b], [Turbine(turbine.turbine_id, b.site_id, "AN-6.0-170", 55.0, 13.0, "edge-reg", protected=True)])
    moved = cache.get(turbine.turbine_id)
    assert moved is not None and (moved.site_id, moved.region, moved.model.model, moved.protected) == (b.site_id, "baltic", "AN-6.0-170", True)
    assert cache.get("nobody-" + tag) is None


def test_a_failed_reload_keeps_the_last_good_copy(stack: StackSettings) -> None:
    tag = uuid.uuid4().hex[:8]
    site = Site(f"C-{tag}", "C", "north-sea", 54.0, 7.0)
    register(stack.postgres_dsn, [site], [Turbine(f"K{tag}", site.site_id, "AN-2.0-90", 54.0, 7.0, "edge-reg")])
    cache = RegistryCache(stack.postgres_dsn, refresh_s=0.0)
    assert cache.get(f"K{tag}") is not None
    cache._dsn = stack.postgres_dsn.replace(str(stack.postgres_port), "1")  # nothing listens there
    info = cache.get(f"K{tag}")
    assert info is not None and info.site_id == site.site_id


def test_deregister_removes_the_turbines_and_only_the_sites_left_empty(stack: StackSettings) -> None:
    tag = uuid.uuid4().hex[:8]
    kept, emptied = Site(f"D-{tag}", "D", "north-sea", 54.0, 7.0), Site(f"E-{tag}", "E", "north-sea", 54.0, 7.0)
    gone = [Turbine(f"G{tag}-{i}", s.site_id, "AN-3.6-130", 54.0, 7.0, "edge-reg") for i, s in enumerate((kept, emptied))]
    stays = Turbine(f"S{tag}", kept.site_id, "AN-3.6-130", 54.0, 7.0, "edge-reg")
    register(stack.postgres_dsn, [kept, emptied], [*gone, stays])
    deregister(stack.postgres_dsn, [kept, emptied], gone)
    cache = RegistryCache(stack.postgres_dsn, refresh_s=0.0)
    assert [cache.get(t.turbine_id) for t in gone] == [None, None]
    info = cache.get(stays.turbine_id)
    assert info is not None and info.site_id == kept.site_id
    with psycopg.connect(stack.postgres_dsn) as conn:
        left = conn.execute("SELECT site_id FROM sites WHERE site_id = ANY(%s) ORDER BY 1", ([kept.site_id, emptied.site_id],)).fetchall()
    assert left == [(kept.site_id,)]


def test_a_fleet_registered_for_a_block_is_gone_after_it_even_when_the_block_fails(stack: StackSettings) -> None:
    tag = uuid.uuid4().hex[:8]
    site = Site(f"D-{tag}", "D", "north-sea", 54.0, 7.0)
    fleet = [Turbine(f"B{tag}-{i}", site.site_id, "AN-3.6-130", 54.0, 7.0, "edge-reg") for i in range(3)]

    def count() -> tuple[int, int]:
        with psycopg.connect(stack.postgres_dsn) as conn:
            turbines = conn.execute("SELECT count(*) FROM turbines WHERE turbine_id LIKE %s", (f"B{tag}-%",)).fetchone()
            sites = conn.execute("SELECT count(*) FROM sites WHERE site_id = %s", (site.site_id,)).fetchone()
        return turbines[0], sites[0]  # type: ignore[index]

    with pytest.raises(RuntimeError, match="bench failed"), registered(stack.postgres_dsn, [site], fleet):
        assert count() == (3, 1)
        raise RuntimeError("bench failed")
    assert count() == (0, 0)
