"""Replay of historical SCADA files (CSV), long or wide, into SensorReadings.

Long format: one row per value, columns turbine, time, channel, value.
Wide format: one row per turbine and time, one column per channel.
Column and channel names are matched after normalising (lower case, units in brackets
dropped, other punctuation to '_') against COLUMN_ALIASES; IEC 61400-25 names match as is.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from edge_bridge.proto import ingest_pb2 as pb
from udfs import epoch
from udfs.channels import CHANNELS

#: common SCADA export names -> IEC 61400-25 channel
COLUMN_ALIASES: dict[str, str] = {
    **{alias: "WMET.HorWdSpd" for alias in ("wind_speed", "windspeed", "wind", "ws", "wind_speed_avg")},
    **{alias: "WTUR.W" for alias in ("power", "active_power", "activepower", "power_kw", "p", "grid_power")},
    **{alias: "WROT.RotSpd" for alias in ("rotor_speed", "rotorspeed", "rotor_rpm")},
    **{alias: "WGEN.GnSpd" for alias in ("generator_speed", "generatorspeed", "gen_rpm")},
    **{alias: "WROT.BlPthAngVal" for alias in ("pitch", "pitch_angle", "blade_pitch", "blade_pitch_angle")},
    **{alias: "WNAC.Dir" for alias in ("nacelle_direction", "nacelle_position", "yaw", "yaw_position")},
    **{alias: "WTRM.TrmTmpGbxOil" for alias in ("gearbox_temp", "gearbox_oil_temperature", "gearbox_temperature")},
    **{alias: "WGEN.GnTmpSta" for alias in ("generator_temp", "generator_temperature", "stator_temperature")},
    **{alias: "WTRM.TrmTmpShfBrg" for alias in ("bearing_temp", "main_bearing_temperature", "bearing_temperature")},
    **{alias: "WMET.EnvTmp" for alias in ("ambient_temp", "ambient_temperature", "outdoor_temperature")},
    **{alias: "WTRM.VibRms" for alias in ("vibration", "drive_train_vibration", "vibration_rms")},
    **{alias: "WTUR.TurSt" for alias in ("status", "status_code", "turbine_status", "state")},
}
TURBINE_COLUMNS = ("turbine", "turbine_id", "wtg", "asset", "asset_id")
TIME_COLUMNS = ("time", "timestamp", "ts", "datetime", "date_time", "ts_unix_ms")
CHANNEL_COLUMNS = ("channel", "signal", "tag", "sensor", "sensor_type")
VALUE_COLUMNS = ("value", "val", "reading")


class ReplayError(ValueError):
    """The file cannot be read as a SCADA export (with the line it failed on)."""


def normalise(name: str) -> str:
    name = re.sub(r"[\(\[].*?[\)\]]", "", name).strip().lower()
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def channel_for(name: str) -> str | None:
    if name in CHANNELS:
        return name
    return COLUMN_ALIASES.get(normalise(name))


def parse_time(text: str, assume_utc: bool) -> int:
    """Epoch milliseconds from epoch ms/s digits or ISO 8601; naive times only with ``assume_utc``."""
    text = text.strip()
    if re.fullmatch(r"\d{12,14}", text):
        return int(text)
    if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
        return int(Decimal(text) * 1000)  # exact: a float would truncate 268349.545 to 268349544 ms
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise ReplayError(f"time {text!r} is neither epoch nor ISO 8601") from err
    if t.tzinfo is None and not assume_utc:
        raise ReplayError(f"time {text!r} has no UTC offset (use --assume-utc if the file is in UTC)")
    return epoch.millis(t)  # a naive time is taken as UTC


def _pick(header: list[str], candidates: tuple[str, ...], what: str) -> str:
    for h in header:
        if normalise(h) in candidates:
            return h
    raise ReplayError(f"no {what} column (looked for {', '.join(candidates)}) in {header}")


@dataclass
class ReplayReport:
    rows: int = 0
    readings: int = 0
    skipped_columns: set[str] = field(default_factory=set)
    skipped_values: int = 0


def read(path: Path, fmt: str, assume_utc: bool = False, report: ReplayReport | None = None) -> Iterator[pb.SensorReading]:
    """Readings of a long or wide SCADA CSV, in file order."""
    rep = report if report is not None else ReplayReport()
    with open(path, newline="") as fh:
        rows = csv.DictReader(fh)
        header = list(rows.fieldnames or [])
        turbine_col = _pick(header, TURBINE_COLUMNS, "turbine")
        time_col = _pick(header, TIME_COLUMNS, "time")
        if fmt == "long":
            chan_col, value_col = _pick(header, CHANNEL_COLUMNS, "channel"), _pick(header, VALUE_COLUMNS, "value")
        elif fmt == "wide":
            mapped = {h: channel_for(h) for h in header if h not in (turbine_col, time_col)}
            rep.skipped_columns |= {h for h, c in mapped.items() if c is None}
        else:
            raise ReplayError(f"format must be long or wide, not {fmt!r}")
        for line, row in enumerate(rows, start=2):
            rep.rows += 1
            try:
                ts = parse_time(row[time_col], assume_utc)
            except ReplayError as err:
                raise ReplayError(f"{path}:{line}: {err}") from err
            pairs = [(row[chan_col], row[value_col])] if fmt == "long" else [(c, row[h]) for h, c in mapped.items() if c]
            for channel_name, raw in pairs:
                channel = channel_for(channel_name) if fmt == "long" else channel_name
                if channel is None:
                    rep.skipped_columns.add(channel_name)
                    continue
                if raw is None or raw.strip() in ("", "NaN", "nan", "NA"):
                    rep.skipped_values += 1  # a gap in the export, not a reading
                    continue
                rep.readings += 1
                yield pb.SensorReading(turbine_id=row[turbine_col].strip(), sensor_id=f"{channel}.1", sensor_type=channel,
                                       ts_unix_ms=ts, value=float(raw))
