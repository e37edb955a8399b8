"""Physically plausible turbine channels, one tick at a time, with labelled injected faults.

Wind follows a Weibull-distributed slow component with a diurnal shape and gusts; power
follows the model's curve at the local air density; speeds, pitch, temperatures and
vibration follow the operating point. Deterministic given the seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from enum import StrEnum

from edge_bridge.fleet import SiteClimate
from edge_bridge.registry import Turbine
from udfs.power_curve import MODELS, expected_power

RATED_ROTOR_RPM = {"AN-2.0-90": 16.0, "AN-3.6-130": 12.0, "AN-6.0-170": 9.5}
GEARBOX_RATIO = 105.0
GAS_CONSTANT_AIR = 287.05  # J/(kg K)


class FaultKind(StrEnum):
    ICING = "icing"
    OVERHEATING = "overheating"
    VIBRATION_GROWTH = "vibration_growth"
    FROZEN_SENSOR = "frozen_sensor"
    DROPOUT = "dropout"
    CURTAILMENT = "curtailment"
    CLOCK_SKEW = "clock_skew"
    LATE_BURST = "late_burst"


@dataclass(frozen=True)
class FaultLabel:
    """Ground truth for detection tests: what was injected, where, and when (event time)."""

    turbine_id: str
    kind: FaultKind
    start_ms: int
    end_ms: int
    channel: str = ""


@dataclass
class TurbineSim:
    turbine: Turbine
    climate: SiteClimate
    rng: random.Random
    faults: list[FaultLabel] = field(default_factory=list)
    wind_slow: float = 0.0
    direction: float = 0.0
    frozen: dict[str, float] = field(default_factory=dict)
    held_back: list[tuple[str, str, int, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.wind_slow = self._weibull()
        self.direction = self.rng.uniform(0, 360)

    def _weibull(self) -> float:
        # Weibull k=2 with the site's mean: scale c = mean / Gamma(1 + 1/k)
        return self.rng.weibullvariate(self.climate.mean_wind_ms / math.gamma(1.5), 2.0)

    def active(self, kind: FaultKind, t_ms: int) -> FaultLabel | None:
        for f in self.faults:
            if f.kind is kind and f.start_ms <= t_ms < f.end_ms:
                return f
        return None

    def tick(self, t_ms: int, step_s: float) -> list[tuple[str, str, int, float]]:
        """(sensor_type, sensor_id, ts_unix_ms, value) for every channel at event time ``t_ms``."""
        rng, model = self.rng, MODELS[self.turbine.model]
        # slow wind: mean-reverting towards a fresh Weibull draw (minutes), diurnal shape, gusts
        alpha = min(1.0, step_s / 600.0)
        self.wind_slow += alpha * (self._weibull() - self.wind_slow)
        hour = (t_ms / 3_600_000.0) % 24
        diurnal = 1.0 + 0.12 * math.sin((hour - 9) / 24 * 2 * math.pi)
        gust = rng.expovariate(1 / 2.5) if rng.random() < 0.02 else 0.0
        wind = max(0.0, self.wind_slow * diurnal * (1 + rng.gauss(0, 0.08)) + gust)
        ambient = self.climate.mean_ambient_c + 5 * math.sin((hour - 15) / 24 * 2 * math.pi) + rng.gauss(0, 0.2)
        density = 101_325 / (GAS_CONSTANT_AIR * (ambient + 273.15))
        power = expected_power(wind, model, density) * (1 + rng.gauss(0, 0.01))
        status = 0 if power > 0 else 1
        icing = self.active(FaultKind.ICING, t_ms)
        if icing:
            ambient = min(ambient, -2.0 + rng.gauss(0, 0.5))
            power *= 0.55
            status = 4
        curtail = self.active(FaultKind.CURTAILMENT, t_ms)
        if curtail:
            power = min(power, 0.4 * model.rated_kw)
            status = 2
        power = max(0.0, min(power, model.rated_kw * 1.02))
        frac = power / model.rated_kw
        rated_rpm = RATED_ROTOR_RPM[self.turbine.model]
        rotor = 0.0 if wind < model.cut_in_ms or wind > model.cut_out_ms else rated_rpm * min(1.0, 0.35 + 0.65 * wind / model.rated_ms)
        pitch = 90.0 if rotor == 0.0 else max(0.0, (wind - model.rated_ms) * 2.2) + (15.0 if curtail else 0.0)
        self.direction = (self.direction + rng.gauss(0, 0.5)) % 360
        heat = 0.0
        overheating = self.active(FaultKind.OVERHEATING, t_ms)
        if overheating:
            heat = 35.0 * min(1.0, (t_ms - overheating.start_ms) / max(1, overheating.end_ms - overheating.start_ms))
        vib = 1.2 + 2.0 * frac + abs(rng.gauss(0, 0.15))
        growth = self.active(FaultKind.VIBRATION_GROWTH, t_ms)
        if growth:
            vib *= math.exp(2.5 * (t_ms - growth.start_ms) / max(1, growth.end_ms - growth.start_ms))
        values = {
            "WMET.HorWdSpd": wind, "WTUR.W": power, "WROT.RotSpd": rotor, "WGEN.GnSpd": rotor * GEARBOX_RATIO,
            "WROT.BlPthAngVal": min(pitch, 90.0), "WNAC.Dir": self.direction,
            "WTRM.TrmTmpGbxOil": ambient + 20 + 30 * frac + heat + rng.gauss(0, 0.3),
            "WGEN.GnTmpSta": ambient + 25 + 45 * frac + heat * 0.5 + rng.gauss(0, 0.3),
            "WTRM.TrmTmpShfBrg": ambient + 15 + 15 * frac + rng.gauss(0, 0.2), "WMET.EnvTmp": ambient,
            "WTRM.VibRms": min(vib, 99.0), "WTUR.TurSt": float(status),
        }
        frozen = self.active(FaultKind.FROZEN_SENSOR, t_ms)
        if frozen:
            values[frozen.channel] = self.frozen.setdefault(frozen.channel, values[frozen.channel])
        skew = self.active(FaultKind.CLOCK_SKEW, t_ms)
        ts = t_ms + (20 * 60 * 1000 if skew else 0)  # the edge clock runs 20 min ahead
        out = [(name, f"{name}.1", ts, round(v, 4)) for name, v in values.items()]
        if self.active(FaultKind.DROPOUT, t_ms):
            return []
        if self.active(FaultKind.LATE_BURST, t_ms):
            self.held_back.extend(out)  # the link is down: the turbine keeps its data
            return []
        if self.held_back:
            out = self.held_back + out  # link back: the backlog arrives late, in one burst
            self.held_back = []
        return out


def plan_faults(turbines: list[Turbine], start_ms: int, end_ms: int, share: float, rng: random.Random) -> list[FaultLabel]:
    """Give ``share`` of the turbines one fault each, of a kind and window drawn from ``rng``."""
    labels: list[FaultLabel] = []
    span = max(1, end_ms - start_ms)
    channels = ["WMET.HorWdSpd", "WTRM.TrmTmpGbxOil", "WNAC.Dir"]
    kinds = list(FaultKind)
    for t in turbines:
        if rng.random() >= share:
            continue
        kind = kinds[rng.randrange(len(kinds))]
        begin = start_ms + int(span * rng.uniform(0.1, 0.5))
        end = begin + int(span * rng.uniform(0.2, 0.4))
        labels.append(FaultLabel(t.turbine_id, kind, begin, min(end, end_ms), channels[rng.randrange(3)] if kind is FaultKind.FROZEN_SENSOR else ""))
    return labels
