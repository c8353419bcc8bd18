"""Synthetic platform data for the demo city: parcels and their rights, monitoring stations
and a year of observations, department reports. Pure functions of a seed (no I/O).

Everything here is invented and is labelled so: names carry “（演示）”, sources say
“synthetic”. Parcel shapes are rectangles placed inside the real district boundaries;
observations follow a seasonal cycle plus noise with magnitudes typical of Wuhan's
published monitoring (湖北省生态环境状况公报: river sections mostly GB 3838 class II–III,
urban lakes III–V with phosphorus the limiting factor; PM2.5 highest in winter, O₃ in
summer), not measured values.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from shapely.affinity import rotate
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

DEMO = "（演示）"
RESOURCE_OF_ECOSYSTEM = {"forest": "forest", "shrub": "shrub", "grassland": "grassland",
                         "wetland": "wetland", "water": "water", "farmland": "cropland",
                         "bare": "bare"}
COLLECTIVE_TYPES = frozenset({"cropland", "grassland", "shrub"})


@dataclass(frozen=True)
class ParcelPlan:
    """A parcel to register: code, district, geometry (register CRS), type, owner, red line."""

    code: str
    district: str
    geometry: BaseGeometry
    resource_type: str
    collective: bool
    red_line: bool


def _rectangle(x: float, y: float, w: float, h: float, angle: float) -> BaseGeometry:
    return rotate(box(x - w / 2, y - h / 2, x + w / 2, y + h / 2), angle, origin=(x, y))


def parcel_plans(
    districts: Sequence[tuple[str, BaseGeometry]],
    ecosystem_at: Callable[[float, float], str | None],
    per_district: int = 5,
    seed: int = 0,
) -> list[ParcelPlan]:
    """Non-overlapping rectangles of 15–60 ha inside each district, typed by the land cover
    at their centre (built-up land is skipped); about one in five forest or wetland parcels
    lies inside the ecological red line."""
    rng = np.random.default_rng([seed, 24])
    plans: list[ParcelPlan] = []
    for code, geom in districts:
        inner = geom.buffer(-400)
        if inner.is_empty:
            continue
        minx, miny, maxx, maxy = inner.bounds
        mine: list[BaseGeometry] = []
        for _ in range(400):
            if len(mine) >= per_district:
                break
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            w, h = rng.uniform(380, 800), rng.uniform(380, 800)
            rect = _rectangle(x, y, w, h, float(rng.uniform(0, 90)))
            eco = ecosystem_at(x, y)
            if eco not in RESOURCE_OF_ECOSYSTEM or not rect.within(inner):
                continue
            if any(rect.buffer(30).intersects(o) for o in mine):
                continue
            rtype = RESOURCE_OF_ECOSYSTEM[eco]
            red = rtype in ("forest", "wetland", "water") and rng.uniform() < 0.25
            mine.append(rect)
            plans.append(ParcelPlan(f"{code}-{len(mine):03d}", code, rect, rtype,
                                    rtype in COLLECTIVE_TYPES or (rtype == "forest" and
                                                                  rng.uniform() < 0.3), red))
    return plans


@dataclass(frozen=True)
class StationPlan:
    """A monitoring station to create (lon/lat in CGCS2000 degrees)."""

    code: str
    name: str
    kind: str
    lon: float
    lat: float
    river: str | None = None
    water_body: str | None = None
    target_class: int | None = None
    upstream: str | None = None
    downstream: str | None = None


# Approximate places on the Yangtze (长江), the Han (汉江) and lakes; names invented.
STATIONS: tuple[StationPlan, ...] = (
    StationPlan("WQ-CJ-01", "长江纱帽断面" + DEMO, "water_section", 114.070, 30.330, "长江", "river", 2,
                None, "420111"),
    StationPlan("WQ-CJ-02", "长江白沙洲断面" + DEMO, "water_section", 114.275, 30.480, "长江", "river", 2,
                "420113", "420107"),
    StationPlan("WQ-CJ-03", "长江阳逻断面" + DEMO, "water_section", 114.560, 30.650, "长江", "river", 2,
                "420107", None),
    StationPlan("WQ-HJ-01", "汉江新沟断面" + DEMO, "water_section", 114.040, 30.620, "汉江", "river", 3,
                None, "420104"),
    StationPlan("WQ-HJ-02", "汉江宗关断面" + DEMO, "water_section", 114.222, 30.585, "汉江", "river", 3,
                "420112", "420102"),
    StationPlan("WQ-DH-01", "东湖湖心" + DEMO, "water_section", 114.405, 30.560, None, "lake", 3),
    StationPlan("WQ-TX-01", "汤逊湖湖心" + DEMO, "water_section", 114.370, 30.420, None, "lake", 3),
    StationPlan("WQ-HG-01", "后官湖湖心" + DEMO, "water_section", 114.100, 30.500, None, "lake", 3),
    StationPlan("AQ-01", "东湖梨园空气站" + DEMO, "air", 114.380, 30.570),
    StationPlan("AQ-02", "汉口花桥空气站" + DEMO, "air", 114.300, 30.620),
    StationPlan("AQ-03", "沌口空气站" + DEMO, "air", 114.150, 30.480),
    StationPlan("AQ-04", "青山钢花空气站" + DEMO, "air", 114.400, 30.630),
    StationPlan("AQ-05", "黄陂前川空气站" + DEMO, "air", 114.380, 30.880),
    StationPlan("AQ-06", "江夏纸坊空气站" + DEMO, "air", 114.320, 30.350),
)

# (mean, seasonal amplitude (peak at day `peak`), relative noise, peak day)
RIVER = {"DO": (7.6, -1.4, 0.06, 200), "CODMn": (2.9, 0.6, 0.12, 200),
         "NH3-N": (0.28, 0.08, 0.25, 30), "TP": (0.085, 0.025, 0.2, 200), "pH": (7.7, 0.1, 0.02, 200)}
LAKE = {"DO": (7.8, -1.6, 0.08, 200), "CODMn": (4.8, 1.0, 0.12, 210),
        "NH3-N": (0.45, 0.15, 0.25, 30), "TP": (0.048, 0.020, 0.22, 210),
        "TN": (0.95, 0.25, 0.15, 60), "pH": (7.9, 0.2, 0.02, 210)}
AIR = {"PM2.5": (42.0, 28.0, 0.35, 15), "PM10": (68.0, 35.0, 0.3, 30), "SO2": (8.0, 3.0, 0.3, 15),
       "NO2": (36.0, 10.0, 0.25, 15), "O3_8h": (105.0, -45.0, 0.25, 15), "CO": (0.9, 0.3, 0.2, 15)}
UNITS = {"DO": "mg/L", "CODMn": "mg/L", "NH3-N": "mg/L", "TP": "mg/L", "TN": "mg/L", "pH": "1",
         "PM2.5": "μg/m3", "PM10": "μg/m3", "SO2": "μg/m3", "NO2": "μg/m3", "O3_8h": "μg/m3",
         "CO": "mg/m3"}
DECIMALS = {"pH": 2, "DO": 2, "CODMn": 2, "NH3-N": 3, "TP": 3, "TN": 3, "CO": 2}


def _value(model: tuple[float, float, float, int], day: int, rng: np.random.Generator) -> float:
    mean, amp, noise, peak = model
    seasonal = mean + amp * math.cos(2 * math.pi * (day - peak) / 365.0)
    return max(seasonal * (1 + noise * float(rng.standard_normal())), 0.0)


def observations(plan: StationPlan, year: int, seed: int = 0) -> list[dict[str, str]]:
    """A year of samples: water sections weekly (Mondays 10:00), air stations daily means
    (dated at 00:00 China time); values as decimal text in the usual report units."""
    rng = np.random.default_rng([seed, zlib.crc32(plan.code.encode())])
    models = AIR if plan.kind == "air" else (LAKE if plan.water_body == "lake" else RIVER)
    start = dt.date(year, 1, 1)
    step = 1 if plan.kind == "air" else 7
    rows = []
    for day in range(0, 365, step):
        date = start + dt.timedelta(days=day)
        at = f"{date.isoformat()}T{'00:00' if plan.kind == 'air' else '10:00'}+08:00"
        for parameter, model in models.items():
            v = _value(model, day, rng)
            places = DECIMALS.get(parameter, 0)
            text = str(Decimal(repr(v)).quantize(Decimal(1).scaleb(-places)))
            rows.append({"station_code": plan.code, "parameter": parameter, "observed_at": at,
                         "value": text, "unit": UNITS[parameter]})
    return rows


def observations_csv(rows: Sequence[dict[str, str]]) -> str:
    """The rows as the monitoring CSV upload format."""
    head = "station_code,parameter,observed_at,value,unit"
    return "\n".join([head, *(",".join(r[k] for k in head.split(",")) for r in rows)]) + "\n"
