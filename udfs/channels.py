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
    # may hold exactly one value for a long time in normal operation (a status code, fine pitch below
    # rated wind, zero power or speed when stopped, a yaw at rest): the frozen-sensor rule does not apply
    holds_steady: bool = False


CHANNELS: dict[str, Channel] = {
    c.name: c
    for c in (
        Channel("WMET.HorWdSpd", "m/s", 0.0, 80.0, "horizontal wind speed at hub height"),
        Channel("WTUR.W", "kW", -500.0, 20_000.0, "active power at the turbine terminals", holds_steady=True),
        Channel("WROT.RotSpd", "rpm", 0.0, 50.0, "rotor speed", holds_steady=True),
        Channel("WGEN.GnSpd", "rpm", 0.0, 3_000.0, "generator speed", holds_steady=True),
        Channel("WROT.BlPthAngVal", "deg", -10.0, 100.0, "blade pitch angle", holds_steady=True),
        Channel("WNAC.Dir", "deg", 0.0, 360.0, "nacelle direction", holds_steady=True),
        Channel("WTRM.TrmTmpGbxOil", "degC", -50.0, 200.0, "gearbox oil temperature"),
        Channel("WGEN.GnTmpSta", "degC", -50.0, 250.0, "generator stator temperature"),
        Channel("WTRM.TrmTmpShfBrg", "degC", -50.0, 200.0, "main shaft bearing temperature"),
        Channel("WMET.EnvTmp", "degC", -60.0, 70.0, "ambient temperature"),
        # no IEC 61400-25 data object for drive-train vibration: our own name, same style
        Channel("WTRM.VibRms", "mm/s", 0.0, 100.0, "drive-train vibration, RMS velocity"),
        Channel("WTUR.TurSt", "code", 0.0, 65_535.0, "turbine status code", holds_steady=True),
    )
}


def watches_frozen(sensor_type: str) -> bool:
    """Whether an exactly constant value of this channel means a stuck sensor."""
    channel = CHANNELS.get(sensor_type)
    return channel is not None and not channel.holds_steady
