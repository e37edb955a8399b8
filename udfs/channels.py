"""Turbine channels: IEC 61400-25 names where one exists, with unit and physical range."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Channel:
    name: str
    unit: str
    low: float
    high: float
    doc: str


CHANNELS: dict[str, Channel] = {
    c.name: c
    for c in (
        Channel("WMET.HorWdSpd", "m/s", 0.0, 80.0, "horizontal wind speed at hub height"),
        Channel("WTUR.W", "kW", -500.0, 20_000.0, "active power at the turbine terminals"),
        Channel("WROT.RotSpd", "rpm", 0.0, 50.0, "rotor speed"),
        Channel("WGEN.GnSpd", "rpm", 0.0, 3_000.0, "generator speed"),
        Channel("WROT.BlPthAngVal", "deg", -10.0, 100.0, "blade pitch angle"),
        Channel("WNAC.Dir", "deg", 0.0, 360.0, "nacelle direction"),
        Channel("WTRM.TrmTmpGbxOil", "degC", -50.0, 200.0, "gearbox oil temperature"),
        Channel("WGEN.GnTmpSta", "degC", -50.0, 250.0, "generator stator temperature"),
        Channel("WTRM.TrmTmpShfBrg", "degC", -50.0, 200.0, "main shaft bearing temperature"),
        Channel("WMET.EnvTmp", "degC", -60.0, 70.0, "ambient temperature"),
        # no IEC 61400-25 data object for drive-train vibration: our own name, same style
        Channel("WTRM.VibRms", "mm/s", 0.0, 100.0, "drive-train vibration, RMS velocity"),
        Channel("WTUR.TurSt", "code", 0.0, 65_535.0, "turbine status code"),
    )
}
