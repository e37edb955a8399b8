"""A simulated portfolio: farms in several regions, each with its turbines and one edge gateway."""

from __future__ import annotations

import random
from dataclasses import dataclass

from edge_bridge.registry import Site, Turbine

#: (region, latitude, longitude, mean wind m/s at hub height, mean ambient degC)
REGIONS = (
    ("north-sea", 54.8, 6.9, 9.8, 10.0),
    ("baltic", 55.3, 14.5, 9.0, 8.5),
    ("iberia", 42.6, -7.9, 7.4, 15.0),
    ("great-plains", 36.4, -99.6, 8.3, 14.0),
    ("nordic-inland", 63.1, 17.2, 7.0, 2.0),
)
MODEL_BY_REGION = {"north-sea": "AN-6.0-170", "baltic": "AN-6.0-170", "iberia": "AN-2.0-90",
                   "great-plains": "AN-3.6-130", "nordic-inland": "AN-3.6-130"}


@dataclass(frozen=True)
class SiteClimate:
    mean_wind_ms: float
    mean_ambient_c: float


@dataclass(frozen=True)
class Fleet:
    sites: list[Site]
    turbines: list[Turbine]
    climate: dict[str, SiteClimate]

    def gateways(self) -> dict[str, list[Turbine]]:
        out: dict[str, list[Turbine]] = {}
        for t in self.turbines:
            out.setdefault(t.edge_id, []).append(t)
        return out


def build(turbines: int, farms: int, seed: int) -> Fleet:
    """``turbines`` spread over ``farms`` farms round-robin over the regions; deterministic in ``seed``."""
    rng = random.Random(seed)
    sites, climate, placed = [], {}, []
    for f in range(farms):
        region, lat, lon, wind, ambient = REGIONS[f % len(REGIONS)]
        site_id = f"{region[:3].upper()}-{f + 1:02d}"
        sites.append(Site(site_id, f"{region} farm {f + 1}", region, lat + rng.uniform(-0.5, 0.5), lon + rng.uniform(-0.5, 0.5)))
        climate[site_id] = SiteClimate(wind * rng.uniform(0.9, 1.1), ambient + rng.uniform(-2, 2))
    for i in range(turbines):
        site = sites[i % farms]
        region = site.region
        placed.append(Turbine(
            turbine_id=f"{site.site_id}-WTG{i // farms + 1:03d}", site_id=site.site_id, model=MODEL_BY_REGION[region],
            lat=site.lat + rng.uniform(-0.02, 0.02), lon=site.lon + rng.uniform(-0.02, 0.02), edge_id=f"edge-{site.site_id.lower()}",
            protected=rng.random() < 0.02, priority=rng.randint(1, 5),
        ))
    return Fleet(sites, placed, climate)
