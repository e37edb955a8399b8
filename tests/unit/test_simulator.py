import statistics
from pathlib import Path

import pytest

from edge_bridge import fleet as fleet_mod
from edge_bridge.physics import FaultKind, FaultLabel, TurbineSim
from alerting.records import to_ms
from edge_bridge.replay import ReplayError, parse_time, read
from edge_bridge.simulator import FleetSimulator
from udfs.channels import CHANNELS
from udfs.power_curve import MODELS, expected_power

pytestmark = pytest.mark.unit

T0 = 1_800_000_000_000


def series(sim: TurbineSim, ticks: int, start: int = T0) -> list[dict[str, float]]:
    out = []
    for k in range(ticks):
        rows = sim.tick(start + k * 1000, 1.0)
        out.append({kind: v for kind, _sid, _ts, v in rows})
    return out


def one(kind: FaultKind | None, seed: int = 3, start: int = T0 + 100_000, end: int = T0 + 400_000, channel: str = "") -> TurbineSim:
    import random

    fl = fleet_mod.build(1, 1, seed)
    t = fl.turbines[0]
    faults = [FaultLabel(t.turbine_id, kind, start, end, channel)] if kind else []
    return TurbineSim(t, fl.climate[t.site_id], random.Random(seed), faults)


def test_fleet_is_deterministic_and_portfolio_shaped() -> None:
    a, b = fleet_mod.build(1000, 8, 7), fleet_mod.build(1000, 8, 7)
    assert a == b
    assert len({s.region for s in a.sites}) == 5 and len(a.gateways()) == 8 and len(a.turbines) == 1000
    s1 = FleetSimulator(a, 7, T0, 1.0, 600, 0.1)
    s2 = FleetSimulator(b, 7, T0, 1.0, 600, 0.1)
    assert s1.labels == s2.labels and s1.tick() == s2.tick()


def test_channels_are_physically_plausible() -> None:
    sim = one(None)
    model = MODELS[sim.turbine.model]
    rows = series(sim, 900)
    for row in rows:
        assert set(row) == set(CHANNELS)
        for name, v in row.items():
            assert CHANNELS[name].low <= v <= CHANNELS[name].high, (name, v)
        assert row["WTUR.W"] <= model.rated_kw * 1.02
    # power tracks the curve at the measured wind (within noise and density correction)
    errors = [abs(r["WTUR.W"] - expected_power(r["WMET.HorWdSpd"], model)) / model.rated_kw for r in rows]
    assert statistics.median(errors) < 0.05


def test_injected_faults_leave_their_signature() -> None:
    base = series(one(None), 400)
    icing = series(one(FaultKind.ICING), 400)
    assert all(r["WMET.EnvTmp"] < 0 and r["WTUR.TurSt"] == 4 for r in icing[150:350])
    assert statistics.mean(r["WTUR.W"] for r in icing[150:350]) < 0.7 * statistics.mean(r["WTUR.W"] for r in base[150:350])
    hot = series(one(FaultKind.OVERHEATING), 400)
    assert hot[390]["WTRM.TrmTmpGbxOil"] - base[390]["WTRM.TrmTmpGbxOil"] > 20
    frozen = series(one(FaultKind.FROZEN_SENSOR, channel="WNAC.Dir"), 400)
    assert len({r["WNAC.Dir"] for r in frozen[100:400]}) == 1 and len({r["WNAC.Dir"] for r in base[100:400]}) > 100
    curtailed = series(one(FaultKind.CURTAILMENT), 400)
    rated = MODELS[one(None).turbine.model].rated_kw
    assert all(r["WTUR.W"] <= 0.4 * rated + 1e-6 for r in curtailed[100:400])


def test_dropout_silence_late_burst_and_clock_skew() -> None:
    sim = one(FaultKind.DROPOUT)
    assert [len(sim.tick(T0 + k * 1000, 1.0)) for k in (50, 150, 450)] == [12, 0, 12]
    late = one(FaultKind.LATE_BURST)
    assert late.tick(T0 + 150_000, 1.0) == [] and late.tick(T0 + 151_000, 1.0) == []
    burst = late.tick(T0 + 450_000, 1.0)
    assert len(burst) == 36 and min(ts for _k, _s, ts, _v in burst) == T0 + 150_000
    skew = one(FaultKind.CLOCK_SKEW)
    assert {ts for _k, _s, ts, _v in skew.tick(T0 + 150_000, 1.0)} == {T0 + 150_000 + 20 * 60_000}


def test_replay_long_and_wide(tmp_path: Path) -> None:
    long = tmp_path / "long.csv"
    long.write_text("turbine,time,channel,value\nWTG01,2026-01-01T00:00:00Z,Wind speed (m/s),7.5\n"
                    "WTG01,2026-01-01T00:00:00Z,WTUR.W,1200\nWTG01,2026-01-01T00:00:00Z,mystery,1\nWTG01,2026-01-01T00:10:00Z,power,\n")
    rows = list(read(long, "long"))
    assert [(r.turbine_id, r.sensor_type, r.value) for r in rows] == [("WTG01", "WMET.HorWdSpd", 7.5), ("WTG01", "WTUR.W", 1200.0)]
    assert rows[0].ts_unix_ms == 1767225600000
    wide = tmp_path / "wide.csv"
    wide.write_text("Timestamp,Turbine_ID,Wind_Speed,Active Power (kW),Gearbox_Temp,Comment\n"
                    "2026-01-01 00:10:00,WTG02,8.1,1500,55.5,ok\n")
    with pytest.raises(ReplayError, match="no UTC offset"):
        list(read(wide, "wide"))
    rows = list(read(wide, "wide", assume_utc=True))
    assert sorted(r.sensor_type for r in rows) == ["WMET.HorWdSpd", "WTRM.TrmTmpGbxOil", "WTUR.W"]


def test_replay_refuses_files_without_a_time_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("turbine,when,channel,value\nA,x,power,1\n")
    with pytest.raises(ReplayError, match="no time column"):
        list(read(bad, "long"))


@pytest.mark.parametrize("text", ["1075161068.353", "2004-01-26T23:51:08.353Z", "2004-01-26T23:51:08.353+00:00",
                                  "2004-01-27T00:51:08.353+01:00", "1075161068353"])
def test_replay_times_land_on_their_own_millisecond(text: str) -> None:
    # through a float, 1075161068.353 s is 1075161068352 ms (0.6% of milliseconds in 2001-2096 are)
    assert parse_time(text, assume_utc=False) == 1_075_161_068_353


def test_alert_times_from_flink_json_land_on_their_own_millisecond() -> None:
    assert to_ms("2004-01-26 23:51:08.353Z") == to_ms("2004-01-26 23:51:08.353") == 1_075_161_068_353
