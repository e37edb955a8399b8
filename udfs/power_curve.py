"""Turbine models and their power curves; expected power, air-density corrected."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

STANDARD_AIR_DENSITY = 1.225  # kg/m3, the density manufacturers' curves are stated at


@dataclass(frozen=True)
class TurbineModel:
    model: str
    rated_kw: float
    rotor_diameter_m: float
    cut_in_ms: float
    rated_ms: float
    cut_out_ms: float
    curve: tuple[tuple[float, float], ...]  # (wind m/s, kW) at standard density, ascending wind


def _cubic_curve(rated_kw: float, cut_in: float, rated: float, cut_out: float) -> tuple[tuple[float, float], ...]:
    points = [(0.0, 0.0), (cut_in, 0.0)]
    steps = 12
    for i in range(1, steps + 1):
        v = cut_in + (rated - cut_in) * i / steps
        frac = (v**3 - cut_in**3) / (rated**3 - cut_in**3)
        points.append((round(v, 3), round(rated_kw * frac, 1)))
    points += [(cut_out, rated_kw), (cut_out + 0.01, 0.0)]
    return tuple(points)


MODELS: dict[str, TurbineModel] = {
    m.model: m
    for m in (
        TurbineModel("AN-2.0-90", 2_000.0, 90.0, 3.5, 12.0, 25.0, _cubic_curve(2_000.0, 3.5, 12.0, 25.0)),
        TurbineModel("AN-3.6-130", 3_600.0, 130.0, 3.0, 11.5, 25.0, _cubic_curve(3_600.0, 3.0, 11.5, 25.0)),
        TurbineModel("AN-6.0-170", 6_000.0, 170.0, 3.0, 11.0, 28.0, _cubic_curve(6_000.0, 3.0, 11.0, 28.0)),
    )
}


def expected_power(wind_ms: float, model: TurbineModel, air_density: float = STANDARD_AIR_DENSITY) -> float:
    """kW the model should produce at ``wind_ms``: the curve, linearly interpolated, with the
    wind speed normalised to standard density (IEC 61400-12-1: v_n = v (rho / rho_0)^(1/3))."""
    if wind_ms <= 0:
        return 0.0
    v = wind_ms * (air_density / STANDARD_AIR_DENSITY) ** (1.0 / 3.0)
    winds = [p[0] for p in model.curve]
    i = bisect.bisect_right(winds, v)
    if i == 0:
        return model.curve[0][1]
    if i >= len(model.curve):
        return model.curve[-1][1]
    (v0, p0), (v1, p1) = model.curve[i - 1], model.curve[i]
    return p0 + (p1 - p0) * (v - v0) / (v1 - v0)
