"""Write sites, turbine models and turbines to the turbine registry in Postgres (idempotent)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from udfs.power_curve import MODELS


@dataclass(frozen=True)
class Site:
    site_id: str
    name: str
    region: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Turbine:
    turbine_id: str
    site_id: str
    model: str
    lat: float
    lon: float
    edge_id: str
    protected: bool = False
    priority: int = 3


def register(dsn: str, sites: Sequence[Site], turbines: Sequence[Turbine]) -> None:
    """Upsert models, sites and turbines in one transaction."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO turbine_models (model, rated_kw, rotor_diameter_m, cut_in_ms, rated_ms, cut_out_ms, power_curve) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (model) DO UPDATE SET power_curve = excluded.power_curve",
                [(m.model, m.rated_kw, m.rotor_diameter_m, m.cut_in_ms, m.rated_ms, m.cut_out_ms, json.dumps(m.curve))
                 for m in MODELS.values()],
            )
            cur.executemany(
                "INSERT INTO sites (site_id, name, region, lat, lon) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (site_id) DO UPDATE SET name = excluded.name, region = excluded.region, updated_at = now()",
                [(s.site_id, s.name, s.region, s.lat, s.lon) for s in sites],
            )
            cur.executemany(
                "INSERT INTO turbines (turbine_id, site_id, model, rated_kw, lat, lon, protected, priority, edge_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (turbine_id) DO UPDATE SET "
                "site_id = excluded.site_id, model = excluded.model, rated_kw = excluded.rated_kw, "
                "protected = excluded.protected, priority = excluded.priority, edge_id = excluded.edge_id, updated_at = now()",
                [(t.turbine_id, t.site_id, t.model, MODELS[t.model].rated_kw, t.lat, t.lon, t.protected, t.priority, t.edge_id)
                 for t in turbines],
            )


def deregister(dsn: str, sites: Sequence[Site], turbines: Sequence[Turbine]) -> None:
    """Remove ``turbines``, then those of ``sites`` no turbine belongs to any more, in one transaction
    (what ``register`` added for a bench or a test; models stay, other turbines may use them)."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("DELETE FROM turbines WHERE turbine_id = ANY(%s)", ([t.turbine_id for t in turbines],))
        conn.execute("DELETE FROM sites s WHERE s.site_id = ANY(%s) AND NOT EXISTS "
                     "(SELECT 1 FROM turbines t WHERE t.site_id = s.site_id)", ([s.site_id for s in sites],))


@contextmanager
def registered(dsn: str, sites: Sequence[Site], turbines: Sequence[Turbine]) -> Iterator[None]:
    """``register`` for the block's length, then ``deregister``, whatever happens: a bench or a test leaves the
    registry as it found it (every job reloads the whole registry, so leftovers cost each later run)."""
    register(dsn, sites, turbines)
    try:
        yield
    finally:
        deregister(dsn, sites, turbines)
