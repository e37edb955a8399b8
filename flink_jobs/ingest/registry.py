"""The turbine registry as the job sees it: a cache of Postgres, refreshed while the job runs."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import psycopg

from udfs.power_curve import TurbineModel

log = logging.getLogger(__name__)

QUERY = """
SELECT t.turbine_id, t.site_id, s.region, t.model, t.rated_kw, t.protected,
       m.rotor_diameter_m, m.cut_in_ms, m.rated_ms, m.cut_out_ms, m.power_curve
FROM turbines t JOIN sites s USING (site_id) JOIN turbine_models m USING (model)
"""


@dataclass(frozen=True, slots=True)
class TurbineInfo:
    turbine_id: str
    site_id: str
    region: str
    model: TurbineModel
    rated_kw: float
    protected: bool


class RegistryCache:
    """Reloads the whole registry every ``refresh_s``; a failed reload keeps the last good copy."""

    def __init__(self, dsn: str, refresh_s: float) -> None:
        self._dsn = dsn
        self._refresh_s = refresh_s
        self._turbines: dict[str, TurbineInfo] = {}
        self._loaded_at = float("-inf")

    def _load(self) -> dict[str, TurbineInfo]:
        with psycopg.connect(self._dsn, connect_timeout=5) as conn:
            rows = conn.execute(QUERY).fetchall()
        models: dict[str, TurbineModel] = {}
        out = {}
        for tid, site, region, model, rated_kw, protected, rotor, cut_in, rated_ms, cut_out, curve in rows:
            if model not in models:
                points = json.loads(curve) if isinstance(curve, str) else curve
                models[model] = TurbineModel(model, rated_kw, rotor, cut_in, rated_ms, cut_out,
                                             tuple((float(v), float(p)) for v, p in points))
            out[tid] = TurbineInfo(tid, site, region, models[model], rated_kw, protected)
        return out

    def get(self, turbine_id: str) -> TurbineInfo | None:
        now = time.monotonic()
        if now - self._loaded_at >= self._refresh_s:
            self._loaded_at = now
            try:
                self._turbines = self._load()
            except psycopg.Error as err:  # keep enriching from the last copy; retried next period
                log.warning("turbine registry reload failed, keeping %d cached turbines: %s", len(self._turbines), err)
        return self._turbines.get(turbine_id)
