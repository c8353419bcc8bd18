"""The corpus of malformed datasets: each case breaks a copy of the small demo dataset.

A case names what it breaks, the function that breaks a copy of the demo (2 km, seed 0,
built once per session by ``tests/test_malformed.py``), the command line it runs and what
the answer must say: the exit status and fragments of the message (what was found, where,
what was expected, how to fix it). ``severity="warning"`` cases are inputs that can be
right (a desert county, a record price): ``validate`` exits 0 and prints the warning.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import tomli_w

Break = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    id: str
    breaks: Break
    expect: tuple[str, ...]  # fragments the output must contain (what, where, expected, fix)
    severity: str = "error"  # "error": exit 1 for validate and account; "warning": validate exits 0
    args: tuple[str, ...] = ()  # extra options, {root} and {tmp} are filled in
    out: str = "{tmp}/out"  # account's --out
    once: tuple[str, ...] = ()  # fragments that must occur exactly once (grouped messages)
    absent: tuple[str, ...] = ()  # fragments that must not occur
    commands: tuple[str, ...] = ("validate", "account")
    dataset: str = "{root}"  # the dataset argument
    part: str = "inputs"  # "inputs" (manifest, rasters, vectors, land cover) or "tables" (the rest)


CASES: list[Case] = []
_PART = ["inputs"]  # the part the cases below belong to (two test modules: both cores of a run)


def case(id: str, *expect: str, **kw: object) -> Callable[[Break], Break]:
    def register(fn: Break) -> Break:
        CASES.append(Case(id, fn, tuple(expect), part=_PART[0], **kw))  # type: ignore[arg-type]
        return fn

    return register


def part(name: str) -> list[Case]:
    return [c for c in CASES if c.part == name]


# ------------------------------------------------------------------ helpers


def manifest(root: Path) -> dict:
    return tomllib.loads((root / "dataset.toml").read_text(encoding="utf-8"))


def write_manifest(root: Path, m: dict) -> None:
    (root / "dataset.toml").write_text(tomli_w.dumps(m), encoding="utf-8")


def edit_manifest(root: Path, fn: Callable[[dict], None]) -> None:
    m = manifest(root)
    fn(m)
    write_manifest(root, m)


def table(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)


def write_table(root: Path, name: str, df: pd.DataFrame) -> None:
    df.to_csv(root / "tables" / f"{name}.csv", index=False, encoding="utf-8")


def edit_table(root: Path, name: str, fn: Callable[[pd.DataFrame], pd.DataFrame | None]) -> None:
    df = table(root, name)
    out = fn(df)
    write_table(root, name, df if out is None else out)


def edit_raster(root: Path, key: str, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    path = root / "rasters" / f"{key}.tif"
    with rasterio.open(path) as src:
        data, prof = src.read(1), src.profile
    data = fn(data)
    prof.update(dtype=data.dtype)
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(data, 1)


def scale_raster(key: str, factor: float) -> Break:
    return lambda root: edit_raster(root, key, lambda a: (a * factor).astype(np.float32))


def geojson(root: Path, name: str) -> dict:
    return json.loads((root / "vectors" / f"{name}.geojson").read_text(encoding="utf-8"))


def write_geojson(root: Path, name: str, fc: dict) -> None:
    (root / "vectors" / f"{name}.geojson").write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")


def edit_geojson(root: Path, name: str, fn: Callable[[dict], None]) -> None:
    fc = geojson(root, name)
    fn(fc)
    write_geojson(root, name, fc)


def profile_file(root: Path, text: str) -> None:
    (root / "profile.toml").write_text(text, encoding="utf-8")


PROFILE = ("--profile", "{root}/profile.toml")
EXTENDS = '[profile]\nid = "broken"\nextends = "cn-2022"\nbase_year = 2020\n'


def stat_rows(df: pd.DataFrame, item: str, code: str | None = None, year: str = "2023") -> pd.Series:
    m = (df["item"] == item) & (df["year"] == year)
    return m & (df["region_code"] == code) if code else m


# ------------------------------------------------------------------ manifest


@case("manifest-missing", "dataset.toml: file not found", "write dataset.toml as described")
def _(root: Path) -> None:
    (root / "dataset.toml").unlink()


@case("manifest-toml-syntax", "is not valid TOML", "fix the syntax at the position given")
def _(root: Path) -> None:
    text = (root / "dataset.toml").read_text(encoding="utf-8")
    (root / "dataset.toml").write_text(text.replace("[dataset]", "[dataset", 1), encoding="utf-8")


@case("manifest-no-year", "[dataset.year]", "Field required", "correct or add 'dataset.year'")
def _(root: Path) -> None:
    edit_manifest(root, lambda m: m["dataset"].pop("year"))


@case("manifest-misspelt-key", "[dataset.yaer]", "Extra inputs are not permitted")
def _(root: Path) -> None:
    edit_manifest(root, lambda m: m["dataset"].update(yaer=2023))


@case("dataset-is-a-file", "is not a folder", "pass the path of the dataset folder", dataset="{root}/dataset.toml")
def _(root: Path) -> None:
    pass


# ------------------------------------------------------------------ rasters


@case("landcover-not-in-manifest", "no 'landcover' raster", "add the land-cover raster")
def _(root: Path) -> None:
    edit_manifest(root, lambda m: m["rasters"].pop("landcover"))


@case("landcover-file-missing", "rasters/landcover.tif", "file not found", "check the path in dataset.toml")
def _(root: Path) -> None:
    (root / "rasters" / "landcover.tif").unlink()


@case("raster-truncated", "rasters/aet.tif", "truncated or damaged", "copy or export the file again")
def _(root: Path) -> None:
    path = root / "rasters" / "aet.tif"
    path.write_bytes(path.read_bytes()[:4000])


@case("landcover-truncated", "rasters/landcover.tif", "truncated or damaged")
def _(root: Path) -> None:
    path = root / "rasters" / "landcover.tif"
    path.write_bytes(path.read_bytes()[:1500])


@case("raster-not-a-tiff", "rasters/npp.tif", "not a readable raster", "a readable GeoTIFF for 'npp'")
def _(root: Path) -> None:
    (root / "rasters" / "npp.tif").write_text("this is not a GeoTIFF", encoding="utf-8")


@case("raster-unit-unknown", "[rasters.precipitation] unit", "'毫米每年' is not a unit pint understands",
      'set unit = "mm/a"')
def _(root: Path) -> None:
    edit_manifest(root, lambda m: m["rasters"]["precipitation"].update(unit="毫米每年"))


@case("raster-unit-dimension", "[rasters.aet] unit", "'kg' cannot be converted to 'mm/a'")
def _(root: Path) -> None:
    edit_manifest(root, lambda m: m["rasters"]["aet"].update(unit="kg"))


@case("raster-negative-precipitation", "precipitation has", "pixels below 0 mm/a", "check the unit in dataset.toml")
def _(root: Path) -> None:
    edit_raster(root, "precipitation", lambda a: np.where(np.arange(a.size).reshape(a.shape) % 7 == 0, -5.0,
                                                          a).astype(np.float32))


@case("erodibility-us-units", "erodibility has", "pixels above 0.1", "SI vs US units for K")
def _(root: Path) -> None:
    scale_raster("erodibility", 1 / 0.1317)(root)


@case("raster-holes-in-regions", "raster 'aet'", "inside the accounting regions have no data", "by region:",
      "fill the gaps")
def _(root: Path) -> None:
    edit_raster(root, "aet", lambda a: np.where(np.arange(a.size).reshape(a.shape) % 5 == 0, np.nan,
                                                a).astype(np.float32))


@case("rasters-short-of-a-region", "lies outside the rasters' extent", "east side", "pixels short",
      "extend the rasters", "rasters that cover every region entirely")
def _(root: Path) -> None:
    # every raster loses its 12 easternmost columns (24 km at 2 km): 新洲区 and 黄陂区 are cut
    for key in [p.stem for p in (root / "rasters").glob("*.tif")]:
        path = root / "rasters" / f"{key}.tif"
        with rasterio.open(path) as src:
            data, prof = src.read(1), src.profile
        data = data[:, :-12]
        prof.update(width=data.shape[1])
        with rasterio.open(path, "w", **prof) as dst:
            dst.write(data, 1)


@case("dataset-crs-mismatch", "CRS is EPSG:4547", "the dataset CRS EPSG:32650")
def _(root: Path) -> None:
    edit_manifest(root, lambda m: m["dataset"].update(crs="EPSG:32650"))


@case("required-raster-missing", "no 'dem' raster", "drop the indicators that need it")
def _(root: Path) -> None:
    edit_manifest(root, lambda m: m["rasters"].pop("dem"))


@case("landcover-non-integer", "has non-integer class codes", "write the raster as an integer type")
def _(root: Path) -> None:
    edit_raster(root, "landcover", lambda a: np.where(a == 21, 21.5, a).astype(np.float32))


@case("landcover-code-without-row", "land-cover codes 99 occur in the raster", "no row in the land-cover table",
      "add rows for these codes")
def _(root: Path) -> None:
    edit_raster(root, "landcover", lambda a: np.where(a == 61, 99, a).astype(a.dtype))


@case("precipitation-in-m", "every pixel of precipitation lies below the plausible range",
      "read as mm/a", "× 1 000", "WMO", severity="warning")
def _(root: Path) -> None:
    scale_raster("precipitation", 1e-3)(root)


@case("precipitation-per-month", "P − R − ET < 0 on", "where water conservation applies",
      "annual totals in mm/a (not monthly, not m/a)", severity="warning")
def _(root: Path) -> None:
    scale_raster("precipitation", 1 / 12)(root)


@case("npp-in-kg", "every pixel of npp lies below the plausible range", "Whittaker & Likens", severity="warning")
def _(root: Path) -> None:
    scale_raster("npp", 1e-3)(root)


@case("aet-in-m", "every pixel of aet lies below the plausible range", "MOD16", severity="warning")
def _(root: Path) -> None:
    scale_raster("aet", 1e-3)(root)


@case("property-value-in-wan", "every pixel of property_value lies below", "× 10 000", severity="warning")
def _(root: Path) -> None:
    scale_raster("property_value", 1e-4)(root)


@case("evaporation-in-m", "every pixel of water_evaporation lies below", severity="warning")
def _(root: Path) -> None:
    scale_raster("water_evaporation", 1e-3)(root)


# ------------------------------------------------------------------ vectors


@case("regions-not-in-manifest", "no 'regions' layer", "add the accounting regions")
def _(root: Path) -> None:
    edit_manifest(root, lambda m: m["vectors"].pop("regions"))


@case("regions-unreadable", "vectors/districts.geojson", "cannot be read", "check the path and the file")
def _(root: Path) -> None:
    (root / "vectors" / "districts.geojson").write_text("{not json", encoding="utf-8")


@case("regions-no-code-field", "has no field 'code'", "rename the field or set code_field")
def _(root: Path) -> None:
    edit_geojson(root, "districts", lambda fc: [f["properties"].update(code_=f["properties"].pop("code"))
                                                for f in fc["features"]])


@case("regions-duplicate-code", "duplicate region code (also feature 0)", "give each region its own code")
def _(root: Path) -> None:
    edit_geojson(root, "districts", lambda fc: fc["features"][1]["properties"].update(
        code=fc["features"][0]["properties"]["code"]))


def _set_geometry(i: int, geometry: dict | None) -> Break:
    return lambda root: edit_geojson(root, "districts", lambda fc: fc["features"][i].update(geometry=geometry))


_X, _Y = 540_000.0, 3_380_000.0
case("region-bow-tie", "feature 2 (code 420104): geometry is invalid (Self-intersection", "make_valid")(
    _set_geometry(2, {"type": "Polygon", "coordinates": [[[_X, _Y], [_X + 5e3, _Y + 5e3], [_X + 5e3, _Y],
                                                          [_X, _Y + 5e3], [_X, _Y]]]}))
case("region-empty", "feature 3 (code 420105): geometry is empty", "draw or repair the region polygon")(
    _set_geometry(3, None))
case("region-point", "geometry is a Point", "use polygon boundaries")(
    _set_geometry(4, {"type": "Point", "coordinates": [_X, _Y]}))
case("region-outside-rasters", "does not overlap the rasters", "reproject the region layer")(
    _set_geometry(5, {"type": "Polygon", "coordinates": [[[_X + 1e6, _Y], [_X + 1e6 + 5e3, _Y],
                                                          [_X + 1e6 + 5e3, _Y + 5e3], [_X + 1e6, _Y]]]}))


@case("regions-overlap", "regions 420102 and 420103", "overlap by", "fix the boundaries")
def _(root: Path) -> None:
    edit_geojson(root, "districts", lambda fc: fc["features"][1].update(geometry=fc["features"][0]["geometry"]))


@case("region-smaller-than-a-pixel", "contain no pixel centre with data at 2000 m",
      "use rasters fine enough for the smallest region")
def _(root: Path) -> None:
    # a 90 m square next to a pixel corner (pixel centres are 1 km from the grid's edges)
    with rasterio.open(root / "rasters" / "landcover.tif") as src:
        x0, y0 = src.bounds.left + 20_000, src.bounds.top - 20_000
    ring = [[x0 + 10, y0 - 10], [x0 + 100, y0 - 10], [x0 + 100, y0 - 100], [x0 + 10, y0 - 100], [x0 + 10, y0 - 10]]
    _set_geometry(0, {"type": "Polygon", "coordinates": [ring]})(root)


def _drop_crs(name: str) -> Break:
    return lambda root: edit_geojson(root, name, lambda fc: fc.pop("crs", None))


case("regions-projected-without-crs", "vectors/districts.geojson", "coordinates look projected",
     "read as EPSG:4326 longitude/latitude", "RFC 7946", "urn:ogc:def:crs:EPSG::4547", once=("look projected",),
     absent=("Invalid Coordinate", "make_valid"))(_drop_crs("districts"))
case("lakes-projected-without-crs", "vectors/lakes.geojson", "coordinates look projected",
     absent=("Invalid Coordinate",))(_drop_crs("lakes"))


@case("regions-lat-lon-swapped", "coordinates look swapped", "longitude first (x), latitude second (y)",
      absent=("Invalid Coordinate",))
def _(root: Path) -> None:
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)

    def swap(coords: list) -> list:
        if isinstance(coords[0], (int, float)):
            lon, lat = tr.transform(coords[0], coords[1])
            return [lat, lon]
        return [swap(c) for c in coords]

    def edit(fc: dict) -> None:
        fc.pop("crs", None)
        for f in fc["features"]:
            f["geometry"]["coordinates"] = swap(f["geometry"]["coordinates"])

    edit_geojson(root, "districts", edit)


def _reservoir_capacity(fn: Callable[[object], object]) -> Break:
    def edit(fc: dict) -> None:
        p = fc["features"][0]["properties"]
        p["capacity_wan_m3"] = fn(p["capacity_wan_m3"])

    return lambda root: edit_geojson(root, "reservoirs", edit)


case("reservoir-capacity-in-m3", "夏家寺水库", "means a mean depth of", "more than the Three Gorges hold",
     "Jinping-I", "divided by 10 000")(
    _reservoir_capacity(lambda v: float(v) * 1e4))  # type: ignore[arg-type]
case("reservoir-capacity-text", "capacity_wan_m3", "is '约一亿'", "fill in the reservoir's capacity")(
    _reservoir_capacity(lambda v: "约一亿"))
case("reservoir-capacity-in-yi", "means a mean depth of only", "亿m³ must be multiplied by 10 000",
     severity="warning")(_reservoir_capacity(lambda v: float(v) / 1e4))  # type: ignore[arg-type]


# ------------------------------------------------------------------ land-cover table


@case("landcover-table-not-in-manifest", "no 'landcover' table", "add the table")
def _(root: Path) -> None:
    edit_manifest(root, lambda m: m["tables"].pop("landcover"))


@case("landcover-table-file-missing", "tables/landcover.csv", "file not found")
def _(root: Path) -> None:
    (root / "tables" / "landcover.csv").unlink()


@case("landcover-table-lacks-column", "lacks columns ['ecosystem_type']", "add or rename the columns")
def _(root: Path) -> None:
    edit_table(root, "landcover", lambda df: df.drop(columns="ecosystem_type"))


@case("landcover-duplicate-code", "duplicate codes [21]", "give every row a unique integer code")
def _(root: Path) -> None:
    edit_table(root, "landcover", lambda df: pd.concat([df, df[df["code"] == "21"]]))


@case("landcover-code-text", "column code: line 2", "code '11a' is not a number", "write plain digits")
def _(root: Path) -> None:
    edit_table(root, "landcover", lambda df: df.assign(code=df["code"].replace("11", "11a")))


@case("landcover-unknown-type", "column ecosystem_type", "unknown types ['woods']")
def _(root: Path) -> None:
    edit_table(root, "landcover", lambda df: df.assign(ecosystem_type=df["ecosystem_type"].replace("forest", "woods")))


@case("landcover-column-no-unit", "column usle_c: has no unit", 'add usle_c = "1"')
def _(root: Path) -> None:
    edit_manifest(root, lambda m: m["tables"]["landcover"]["units"].pop("usle_c"))


@case("landcover-column-wrong-unit", "column so2_absorption", "'m' cannot be converted to 'kg/(hm²·a)'")
def _(root: Path) -> None:
    edit_manifest(root, lambda m: m["tables"]["landcover"]["units"].update(so2_absorption="m"))


@case("landcover-value-text", "column usle_p", "non-numeric values for codes", "12 ('0.5x')")
def _(root: Path) -> None:
    edit_table(root, "landcover", lambda df: df.assign(usle_p=df["usle_p"].where(df["code"] != "12", "0.5x")))


@case("landcover-value-out-of-range", "column storm_runoff_coef", "values outside [0, 1] 1 for codes 51")
def _(root: Path) -> None:
    edit_table(root, "landcover", lambda df: df.assign(
        storm_runoff_coef=df["storm_runoff_coef"].where(df["code"] != "51", "1.5")))


@case("landcover-needed-column-dropped", "lacks columns ['storm_runoff_coef'] needed by the profile's indicators")
def _(root: Path) -> None:
    edit_table(root, "landcover", lambda df: df.drop(columns="storm_runoff_coef"))
    edit_manifest(root, lambda m: [m["tables"]["landcover"][k].pop("storm_runoff_coef") for k in ("units", "sources")])


@case("pest-switch-flags-shrub", "column pest_control", "22 灌木林 (shrub)", "are flagged 1, but the profile switch",
      "set pest_control = 0 for these classes", args=PROFILE)
def _(root: Path) -> None:
    profile_file(root, EXTENDS + "[switches]\npest_control = true\n")


@case("pest-flag-not-0-or-1", "column pest_control", "0 or 1", args=PROFILE)
def _(root: Path) -> None:
    profile_file(root, EXTENDS + "[switches]\npest_control = true\n")
    edit_table(root, "landcover", lambda df: df.assign(
        pest_control=df["pest_control"].where(~df["code"].isin(["21", "22"]), "0.5")))


@case("landcover-not-utf8", "is not UTF-8 text", "save it as CSV UTF-8")
def _(root: Path) -> None:
    path = root / "tables" / "landcover.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))


# ------------------------------------------------------------------ statistics

_PART[0] = "tables"


@case("statistics-duplicate-row", "2 rows give the same statistics row (420102, 2023, water_use:domestic)",
      "one row per region_code, year, item", "delete the repeated rows")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: pd.concat([df, df[stat_rows(df, "water_use:domestic", "420102")]]))


@case("statistics-pasted-twice", "more keys repeat", "pasted twice", once=("pasted twice",))
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: pd.concat([df, df]))


@case("statistics-year-with-words", "column year", "year '2023年' is not a number", "a year as four digits",
      "no row has year 2023", once=("'2023年'",))
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: df.assign(year=df["year"].replace("2023", "2023年")))


@case("statistics-quantity-text", "column quantity:", "quantity '约1200' is not a number", "no units or words")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: df.assign(
        quantity=df["quantity"].where(~stat_rows(df, "gdp", "420102"), "约1200")))


@case("statistics-quantity-empty", "quantity is empty", "fill in the number")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: df.assign(
        quantity=df["quantity"].where(~stat_rows(df, "gdp", "420103"), "")))


@case("statistics-quantity-1e300", "quantity 1e+300", "larger than any region's total can be")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: df.assign(
        quantity=df["quantity"].where(~stat_rows(df, "water_use:domestic", "420102"), "1e300")))


@case("statistics-negative", "quantity -5 is negative", "a quantity ≥ 0")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: df.assign(
        quantity=df["quantity"].where(~stat_rows(df, "hydropower", "420115"), "-5")))


@case("statistics-unit-typo-many-rows", "unit 'tt'", "rows) of product:", "is not a unit pint understands",
      once=("unit 'tt'",))
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: df.assign(unit=df["unit"].replace("t", "tt")))


@case("statistics-unit-wrong-dimension", "unit 't'", "of water_use:domestic cannot be converted to m³")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: df.assign(
        unit=df["unit"].where(df["item"] != "water_use:domestic", "t")))


@case("statistics-item-missing-for-region", "'climate:ac_days' (needed by climate_regulation) missing for year 2023 "
      "in regions 420104", "write 0 if there truly is none")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: df[~stat_rows(df, "climate:ac_days", "420104")])


@case("statistics-unknown-item", "unknown item 'water_use:domestc'", "is ignored", severity="warning")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: pd.concat([df, df[stat_rows(df, "gdp", "420102")].assign(
        item="water_use:domestc")]))


@case("statistics-unknown-region", "rows for unknown region codes 429999", severity="warning")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: pd.concat([df, df[stat_rows(df, "gdp", "420102")].assign(
        region_code="429999")]))


@case("statistics-product-without-indicator", "product rows have indicator ''", "fill in the indicator column")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: df.assign(
        indicator=df["indicator"].where(~stat_rows(df, "product:rice", "420115"), "")))


@case("statistics-wage-per-month", "wage:daily", "outside the plausible range 20–5000 元/d", "NBS",
      severity="warning")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: df.assign(quantity=df["quantity"].where(
        df["item"] != "wage:daily", (pd.to_numeric(df["quantity"], errors="coerce") * 30).astype(str))))


@case("statistics-ac-days-impossible", "climate:ac_days 400 d is impossible", "within [0.0, 366.0] d")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: df.assign(
        quantity=df["quantity"].where(~stat_rows(df, "climate:ac_days", "420102"), "400")))


@case("statistics-lacks-columns", "tables/statistics.csv", "lacks columns ['unit']")
def _(root: Path) -> None:
    edit_table(root, "statistics", lambda df: df.drop(columns="unit"))


@case("statistics-other-year", "no row has year 2030", "or account another year", args=("--year", "2030"))
def _(root: Path) -> None:
    pass


# ------------------------------------------------------------------ reported quantities


def _reported(**values: str) -> Break:
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        row = df.iloc[[1]].copy()
        for k, v in values.items():
            row[k] = v
        return pd.concat([df, row])

    return lambda root: edit_table(root, "reported", edit)


case("reported-unknown-region", "tables/reported.csv line 5", "unknown region code '429999'")(
    _reported(region_code="429999"))
case("reported-unknown-indicator", "unknown indicator 'water_magic'", "use the indicator id of the catalogue")(
    _reported(indicator="water_magic"))
case("reported-bad-mode", "mode 'sometimes'", "replace or complement")(_reported(mode="sometimes"))
case("reported-unit-dimension", "'t' cannot be converted to 'm³'")(_reported(unit="t", region_code="420115"))
case("reported-quantity-1e308", "quantity 1e+308", "larger than any region's total can be")(
    _reported(quantity="1e308", region_code="420115"))
case("reported-quantity-text", "quantity '十八亿' is not a number")(_reported(quantity="十八亿", region_code="420115"))
case("reported-unknown-ecosystem-type", "ecosystem_type 'woods'")(_reported(ecosystem_type="woods"))
case("reported-year-text", "year '二〇二三' is not a number")(_reported(year="二〇二三", region_code="420115"))
case("reported-type-absent-from-region", "reported water_supply for region 420103 is for ecosystem type 'forest'",
     "which the region has no pixel of", "correct the ecosystem_type column")(
    _reported(region_code="420103", ecosystem_type="forest"))


# ------------------------------------------------------------------ prices and price index


@case("prices-duplicate-item", "2 rows give the same price item (product:rice)")
def _(root: Path) -> None:
    edit_table(root, "prices", lambda df: pd.concat([df, df[df["item"] == "product:rice"].assign(value="3000")]))


@case("prices-unit-not-a-price", "unit 't' is not a price", "write e.g. CNY/t")
def _(root: Path) -> None:
    edit_table(root, "prices", lambda df: df.assign(unit=df["unit"].where(df["item"] != "product:rice", "t")))


@case("prices-value-text", "value '2,800' is not a number", "no thousands separators")
def _(root: Path) -> None:
    edit_table(root, "prices", lambda df: df.assign(value=df["value"].where(df["item"] != "product:rice", "2,800")))


@case("prices-per-kg-as-per-t", "price 2.8 CNY/t is outside the plausible range", "per kg", severity="warning")
def _(root: Path) -> None:
    edit_table(root, "prices", lambda df: df.assign(value=df["value"].where(df["item"] != "product:rice", "2.8")))


@case("prices-missing-product", "no price for 'product:rice'", "add the local price of rice")
def _(root: Path) -> None:
    edit_table(root, "prices", lambda df: df[df["item"] != "product:rice"])


@case("prices-unit-mismatch", "price of 'product:rice' is in CNY/m**3 but quantities are in t")
def _(root: Path) -> None:
    edit_table(root, "prices", lambda df: df.assign(unit=df["unit"].where(df["item"] != "product:rice", "CNY/m**3")))


@case("price-index-text", "index '一百' is not a number", "a positive number")
def _(root: Path) -> None:
    edit_table(root, "price_index", lambda df: df.assign(index=df["index"].where(df["year"] != "2015", "一百")))


@case("price-index-gap", "the price index has no value for 2010", "reservoir_cost", "are NOT restated",
      severity="warning")
def _(root: Path) -> None:
    edit_table(root, "price_index", lambda df: df[df["year"] != "2010"])


@case("price-index-duplicate-year", "2 rows give the same year (2015)")
def _(root: Path) -> None:
    edit_table(root, "price_index", lambda df: pd.concat([df, df[df["year"] == "2015"]]))


@case("price-index-not-positive", "index 0 is not positive")
def _(root: Path) -> None:
    edit_table(root, "price_index", lambda df: df.assign(index=df["index"].where(df["year"] != "2016", "0")))


# ------------------------------------------------------------------ profiles


case("profile-unknown", "profile 'cn-2099' not found", "expected one of ['cn-2022']", "pass --profile cn-2022",
     args=("--profile", "cn-2099"))(lambda root: None)


@case("profile-toml-syntax", "not valid TOML", "fix the syntax at that line", args=PROFILE)
def _(root: Path) -> None:
    profile_file(root, "[profile\nid = 1\n")


@case("profile-parameter-wrong-unit", '[parameters."reservoir_cost"]', "unit 'CNY/t' cannot be converted to 元/m³",
      "the unit the engine reads 'reservoir_cost'", args=PROFILE)
def _(root: Path) -> None:
    profile_file(root, EXTENDS + '[parameters."reservoir_cost"]\nvalue = "7.06"\nunit = "CNY/t"\n'
                 'price_year = 2010\nsource = "typo"\n')


@case("profile-parameter-text", "value '七元' is not a number", args=PROFILE)
def _(root: Path) -> None:
    profile_file(root, EXTENDS + '[parameters."reservoir_cost"]\nvalue = "七元"\nunit = "CNY/m**3"\nsource = "s"\n'
                 'price_year = 2010\n')


@case("profile-parameter-implausible", "reservoir_cost", "outside the plausible range 0.067–70.6 元/m³",
      "published 0.67–7.06", severity="warning", args=PROFILE)
def _(root: Path) -> None:
    profile_file(root, EXTENDS + '[parameters."reservoir_cost"]\nvalue = "70600"\nunit = "CNY/m**3"\n'
                 'price_year = 2010\nsource = "per 万m³ by mistake"\n')


@case("profile-fraction-as-percent", "soil.silting_coef", "outside the physical limits", args=PROFILE)
def _(root: Path) -> None:
    profile_file(root, EXTENDS + '[parameters."soil.silting_coef"]\nvalue = "24"\nunit = "1"\nsource = "s"\n')


@case("profile-unknown-indicator", "unknown indicators ['magic']", args=PROFILE)
def _(root: Path) -> None:
    profile_file(root, EXTENDS + '[indicators]\ninclude = ["water_conservation", "magic"]\n')


@case("profile-parameter-no-source", "overrides the value (7.06 → 7) without its own source, price_year",
      "would be reported for it", args=PROFILE)
def _(root: Path) -> None:
    profile_file(root, EXTENDS + '[parameters."reservoir_cost"]\nvalue = "7"\nunit = "CNY/m**3"\n')


# ------------------------------------------------------------------ output folder


case("out-read-only", "cannot write in /sys", "choose a writable folder", out="/sys/ecovalue-malformed-run",
     commands=("account",))(lambda root: None)


@case("out-is-a-file", "is a file, not a folder", out="{tmp}/out.txt", commands=("account",))
def _(root: Path) -> None:
    (root.parent / "out.txt").write_text("x", encoding="utf-8")


assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


# ------------------------------------------------------------------ the check of one case


def _run(args: list[str]) -> tuple[int, str]:
    from typer.testing import CliRunner

    from ecovalue.cli.main import app

    res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"{args[0]} raised {res.exception!r}:\n{res.output}") from res.exception
    return res.exit_code, res.output


def _fill(text: str, root: Path, tmp: Path) -> str:
    return text.replace("{root}", str(root)).replace("{tmp}", str(tmp))


def _out_state(out: Path) -> object:
    if out.is_file():
        return out.read_bytes()
    return sorted(p.name for p in out.iterdir()) if out.is_dir() else None


def check_case(c: Case, demo: Path, tmp: Path) -> None:
    """Break a copy of ``demo`` in ``tmp`` and check every command's answer (module docstring
    of tests/test_malformed.py)."""
    import shutil

    root = tmp / "d"
    shutil.copytree(demo, root)
    c.breaks(root)
    dataset = _fill(c.dataset, root, tmp)
    extra = [_fill(a, root, tmp) for a in c.args]
    for command in c.commands:
        if command == "validate":
            code, output = _run(["validate", dataset, *extra])
            want = 1 if c.severity == "error" else 0
        else:
            if c.severity != "error":
                continue  # a warning case computes the whole account: tests/test_warnings.py
            out = Path(_fill(c.out, root, tmp))
            before = _out_state(out)
            code, output = _run(["account", dataset, "--out", str(out), "--no-reports", *extra])
            want = 1
            assert _out_state(out) == before, f"account wrote to --out: {_out_state(out)}"
        flat = " ".join(output.split())  # the console wraps long lines
        assert code == want, f"{command} exited {code}, expected {want}:\n{output}"
        assert "Traceback" not in output and "internal error" not in output, output
        for fragment in c.expect:
            assert " ".join(fragment.split()) in flat, f"{command}: {fragment!r} not in:\n{output}"
        for fragment in c.once:
            assert flat.count(fragment) == 1, f"{command}: {fragment!r} not exactly once in:\n{output}"
        for fragment in c.absent:
            assert fragment not in flat, f"{command}: {fragment!r} in:\n{output}"
        assert ("error" in output) if c.severity == "error" else ("warning" in output and "OK" in output)
