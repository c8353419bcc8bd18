"""Pure rules of environmental monitoring: parameters, water class, AQI and quality flags.

Nothing here touches the database; numbers are :class:`~decimal.Decimal`.

* Surface-water class per GB 3838-2002 《地表水环境质量标准》 Table 1 (basic items): each
  parameter's class is the best class whose limit it meets (limits inclusive), a value
  beyond class V is 劣V, and a section's class is its worst parameter's class (single-factor
  assessment, 《地表水环境质量评价办法（试行）》 环办〔2011〕22号). TN is assessed for lakes and
  reservoirs only (Table 1 note "湖、库"), as the 2011 assessment rules prescribe.
* Air quality per HJ 633-2012 《环境空气质量指数（AQI）技术规定（试行）》 Table 1 (breakpoints
  equal to the GB 3095-2012 limits): IAQI by linear interpolation, rounded up to an integer
  (HJ 633 §5: "全部进位取整数"); AQI = max IAQI; the primary pollutant(s) are those with
  the maximum IAQI when AQI > 50. Observations at air stations are 24-hour means (O₃ as
  the daily maximum 8-hour mean), so the 24-hour table applies.
* Quality flags never delete data: out of physical range, spike (Hampel filter), flat line
  and gap. Their thresholds are assumed — user-settable (:class:`FlagSettings`).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from types import MappingProxyType

D = Decimal


class StationKind(StrEnum):
    """What a station observes."""

    air = "air"  # air-quality station (空气质量监测站)
    water_section = "water_section"  # surface-water assessment section (水质断面)
    forest_plot = "forest_plot"  # forest monitoring plot (森林样地)
    wetland_plot = "wetland_plot"  # wetland monitoring plot (湿地样地)


class WaterBody(StrEnum):
    """GB 3838-2002 distinguishes rivers from lakes and reservoirs for TP and TN."""

    river = "river"
    lake = "lake"  # lakes and reservoirs (湖、库)


@dataclass(frozen=True)
class ParameterSpec:
    """A monitored parameter: canonical unit, station kinds and physical range.

    ``physical_range`` is the interval outside which a value cannot be real (a sensor or
    typing error); assumed — user-settable through :class:`FlagSettings`.
    """

    id: str
    name_zh: str
    unit: str  # canonical unit, stored values are in it
    kinds: tuple[StationKind, ...]
    physical_range: tuple[Decimal, Decimal]


_W = (StationKind.water_section, StationKind.wetland_plot)
_A = (StationKind.air,)
_P = (StationKind.forest_plot, StationKind.wetland_plot)

PARAMETERS: Mapping[str, ParameterSpec] = MappingProxyType(
    {
        s.id: s
        for s in (
            # DO above ~20 mg/L would be extreme supersaturation (saturation is 14.6 at 0 °C).
            ParameterSpec("DO", "溶解氧", "mg/L", _W, (D(0), D(20))),
            ParameterSpec("CODMn", "高锰酸盐指数", "mg/L", _W, (D(0), D(500))),
            ParameterSpec("COD", "化学需氧量", "mg/L", _W, (D(0), D(5000))),
            ParameterSpec("BOD5", "五日生化需氧量", "mg/L", _W, (D(0), D(2000))),
            ParameterSpec("NH3-N", "氨氮", "mg/L", _W, (D(0), D(500))),
            ParameterSpec("TP", "总磷", "mg/L", _W, (D(0), D(100))),
            ParameterSpec("TN", "总氮", "mg/L", _W, (D(0), D(500))),
            ParameterSpec("pH", "pH", "1", _W, (D(0), D(14))),
            ParameterSpec("PM2.5", "细颗粒物", "μg/m**3", _A, (D(0), D(2000))),
            ParameterSpec("PM10", "可吸入颗粒物", "μg/m**3", _A, (D(0), D(5000))),
            ParameterSpec("SO2", "二氧化硫", "μg/m**3", _A, (D(0), D(5000))),
            ParameterSpec("NO2", "二氧化氮", "μg/m**3", _A, (D(0), D(3000))),
            ParameterSpec("O3_8h", "臭氧（8小时）", "μg/m**3", _A, (D(0), D(2000))),
            ParameterSpec("CO", "一氧化碳", "mg/m**3", _A, (D(0), D(150))),
            ParameterSpec("canopy_cover", "郁闭度", "percent", _P, (D(0), D(100))),
            ParameterSpec("soil_moisture", "土壤含水量", "percent", _P, (D(0), D(100))),
            ParameterSpec("water_level", "水位", "m", _P, (D(-20), D(200))),
        )
    }
)

WATER_CLASS_LABELS = ("I", "II", "III", "IV", "V", "劣V")  # class n has label index n-1

# GB 3838-2002 Table 1, limits for classes I–V in mg/L. "min": the value must be ≥ the
# limit (DO); "max": ≤ the limit. DO class I is "饱和率90%（或7.5）": 7.5 mg/L is used.
WATER_LIMITS: Mapping[str, tuple[str, tuple[Decimal, ...]]] = MappingProxyType(
    {
        "DO": ("min", (D("7.5"), D(6), D(5), D(3), D(2))),
        "CODMn": ("max", (D(2), D(4), D(6), D(10), D(15))),
        "COD": ("max", (D(15), D(15), D(20), D(30), D(40))),
        "BOD5": ("max", (D(3), D(3), D(4), D(6), D(10))),
        "NH3-N": ("max", (D("0.15"), D("0.5"), D("1.0"), D("1.5"), D("2.0"))),
        "TP:river": ("max", (D("0.02"), D("0.1"), D("0.2"), D("0.3"), D("0.4"))),
        "TP:lake": ("max", (D("0.01"), D("0.025"), D("0.05"), D("0.1"), D("0.2"))),
        "TN:lake": ("max", (D("0.2"), D("0.5"), D("1.0"), D("1.5"), D("2.0"))),
    }
)

IAQI_LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)
# HJ 633-2012 Table 1, 24-hour means (O3: daily maximum 8-hour mean); μg/m³, CO in mg/m³.
# O3_8h has no breakpoints above 800: HJ 633 then reports O3 by its 1-hour IAQI.
AQI_BREAKPOINTS: Mapping[str, tuple[Decimal, ...]] = MappingProxyType(
    {
        "SO2": tuple(D(x) for x in (0, 50, 150, 475, 800, 1600, 2100, 2620)),
        "NO2": tuple(D(x) for x in (0, 40, 80, 180, 280, 565, 750, 940)),
        "PM10": tuple(D(x) for x in (0, 50, 150, 250, 350, 420, 500, 600)),
        "CO": tuple(D(x) for x in (0, 2, 4, 14, 24, 36, 48, 60)),
        "O3_8h": tuple(D(x) for x in (0, 100, 160, 215, 265, 800)),
        "PM2.5": tuple(D(x) for x in (0, 35, 75, 115, 150, 250, 350, 500)),
    }
)
AQI_ALERT_THRESHOLD = 100  # AQI > 100: 轻度污染 or worse (HJ 633 Table 2)


def water_class_number(label: str) -> int:
    """1 for 'I' … 6 for '劣V'; raises ValueError naming the accepted labels."""
    if label not in WATER_CLASS_LABELS:
        raise ValueError(f"water class '{label}' is unknown; expected one of {WATER_CLASS_LABELS}")
    return WATER_CLASS_LABELS.index(label) + 1


def parameter_class(parameter: str, value: Decimal, water_body: str = "river") -> int | None:
    """Class 1–6 (I…劣V) of one parameter value per GB 3838-2002, None if not assessed."""
    key = f"{parameter}:{water_body}" if parameter in ("TP", "TN") else parameter
    if key not in WATER_LIMITS:
        return None
    sense, limits = WATER_LIMITS[key]
    for n, limit in enumerate(limits, start=1):
        if (value >= limit) if sense == "min" else (value <= limit):
            return n
    return 6


@dataclass(frozen=True)
class WaterAssessment:
    """A section's class (worst parameter) and each assessed parameter's class."""

    water_class: int  # 1..6
    by_parameter: Mapping[str, int]
    worst: tuple[str, ...]  # parameters that set the class

    @property
    def label(self) -> str:
        return WATER_CLASS_LABELS[self.water_class - 1]


def water_quality(
    values: Mapping[str, Decimal], water_body: str = "river"
) -> WaterAssessment | None:
    """Single-factor class of a sample or period mean; None when no parameter is assessable."""
    classes = {
        p: c for p, v in values.items() if (c := parameter_class(p, v, water_body)) is not None
    }
    if not classes:
        return None
    worst = max(classes.values())
    return WaterAssessment(
        worst, classes, tuple(sorted(p for p, c in classes.items() if c == worst))
    )


def iaqi(pollutant: str, concentration: Decimal) -> int:
    """Individual AQI per HJ 633-2012 eq. (1), rounded up.

    IAQI = (IAQI_Hi − IAQI_Lo)/(BP_Hi − BP_Lo) × (C − BP_Lo) + IAQI_Lo. Above the highest
    breakpoint the IAQI is reported as 500 (assumed: the table ends there). O3_8h above
    800 μg/m³ raises ValueError: HJ 633 says to use the 1-hour O3 IAQI instead.
    """
    bps = AQI_BREAKPOINTS.get(pollutant)
    if bps is None:
        raise ValueError(
            f"'{pollutant}' has no IAQI breakpoints; expected one of {list(AQI_BREAKPOINTS)}"
        )
    if concentration < 0:
        raise ValueError(f"{pollutant} concentration {concentration} is negative")
    for i in range(1, len(bps)):
        if concentration <= bps[i]:
            lo, hi = bps[i - 1], bps[i]
            ia_lo, ia_hi = IAQI_LEVELS[i - 1], IAQI_LEVELS[i]
            # Divide last: an integer result stays exact, so rounding up cannot add 1.
            exact = D(ia_hi - ia_lo) * (concentration - lo) / (hi - lo) + ia_lo
            return int(exact.to_integral_value(rounding=ROUND_CEILING))
    if pollutant == "O3_8h":
        raise ValueError(
            f"O3_8h {concentration} μg/m³ is above 800; HJ 633-2012 reports O3 by its 1-hour "
            "IAQI then: record the 1-hour value instead"
        )
    return 500


@dataclass(frozen=True)
class AirAssessment:
    """AQI, each pollutant's IAQI and the primary pollutant(s) (none when AQI ≤ 50).

    ``not_assessed`` lists pollutants left out (O3_8h above 800 μg/m³, see :func:`iaqi`).
    """

    aqi: int
    by_pollutant: Mapping[str, int]
    primary: tuple[str, ...]
    not_assessed: tuple[str, ...] = ()


def air_quality(values: Mapping[str, Decimal]) -> AirAssessment | None:
    """AQI = max IAQI over the pollutants present (HJ 633-2012 eq. (2)); None if none."""
    sub: dict[str, int] = {}
    skipped = []
    for p, v in values.items():
        if p not in AQI_BREAKPOINTS:
            continue
        if p == "O3_8h" and v > AQI_BREAKPOINTS[p][-1]:
            skipped.append(p)
            continue
        sub[p] = iaqi(p, v)
    if not sub:
        return None
    aqi = max(sub.values())
    primary = tuple(sorted(p for p, v in sub.items() if v == aqi)) if aqi > 50 else ()
    return AirAssessment(aqi, sub, primary, tuple(skipped))


# ---------------------------------------------------------------- quality flags


@dataclass(frozen=True)
class FlagSettings:
    """Thresholds of the quality flags, all assumed — user-settable.

    ``spike_k``: a value is a spike when |x − median| > k × MAD within a centred window of
    ``spike_window`` values, MAD scaled by 1.4826 to estimate σ for normal data (Hampel
    filter; k = 3 as in Pearson 2002, IEEE Trans. Control Syst. Technol. 10(1)).
    ``flat_n``: that many identical consecutive values are a flat line (stuck sensor).
    ``gap_factor``: a step longer than factor × the station's expected interval is a gap.
    ``ranges``: overrides of :data:`PARAMETERS` physical ranges.
    """

    spike_k: Decimal = D(3)
    spike_window: int = 7
    flat_n: int = 6
    gap_factor: Decimal = D("1.5")
    ranges: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)


MAD_SCALE = D("1.4826")


@dataclass(frozen=True)
class Flag:
    """A quality flag on the ``index``-th value of a series."""

    index: int
    flag: str  # range | spike | flat_line | gap
    detail: str


def range_flags(parameter: str, values: Sequence[Decimal], settings: FlagSettings) -> list[Flag]:
    """Values outside the parameter's physical range."""
    lo, hi = settings.ranges.get(parameter) or PARAMETERS[parameter].physical_range
    return [
        Flag(i, "range", f"{v} outside the physical range [{lo}, {hi}]")
        for i, v in enumerate(values)
        if not lo <= v <= hi
    ]


def spike_flags(values: Sequence[Decimal], settings: FlagSettings) -> list[Flag]:
    """Hampel filter: |x − rolling median| > k·MAD (scaled), centred window, ≥ 3 values."""
    half = settings.spike_window // 2
    out = []
    for i, v in enumerate(values):
        window = list(values[max(0, i - half) : i + half + 1])
        if len(window) < 3:
            continue
        med = D(statistics.median(window))
        mad = D(statistics.median([abs(w - med) for w in window])) * MAD_SCALE
        if abs(v - med) > settings.spike_k * mad:
            out.append(
                Flag(
                    i,
                    "spike",
                    f"{v} is {abs(v - med)} from the rolling median {med} "
                    f"(> {settings.spike_k} × MAD {mad.normalize()})",
                )
            )
    return out


def flat_line_flags(values: Sequence[Decimal], settings: FlagSettings) -> list[Flag]:
    """Every value of a run of ≥ ``flat_n`` identical consecutive values."""
    out: list[Flag] = []
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            run = i - start
            if run >= settings.flat_n:
                out += [
                    Flag(j, "flat_line", f"{values[start]} repeated {run} times")
                    for j in range(start, i)
                ]
            start = i
    return out


def gap_flags(
    times: Sequence[dt.datetime], expected_interval_s: int | None, settings: FlagSettings
) -> list[Flag]:
    """Flag the value after a step longer than ``gap_factor`` × the expected interval."""
    if not expected_interval_s:
        return []
    limit = float(settings.gap_factor) * expected_interval_s
    out = []
    for i in range(1, len(times)):
        step = (times[i] - times[i - 1]).total_seconds()
        if step > limit:
            missing = math.ceil(step / expected_interval_s) - 1
            out.append(
                Flag(
                    i,
                    "gap",
                    f"{missing} expected value(s) missing since {times[i - 1].isoformat()}",
                )
            )
    return out


def series_flags(
    parameter: str,
    times: Sequence[dt.datetime],
    values: Sequence[Decimal],
    expected_interval_s: int | None,
    settings: FlagSettings,
) -> list[Flag]:
    """All flags of one time-ordered series of a station and parameter."""
    return (
        range_flags(parameter, values, settings)
        + spike_flags(values, settings)
        + flat_line_flags(values, settings)
        + gap_flags(times, expected_interval_s, settings)
    )
