"""Checks of a dataset's tables: land cover, statistics, reported quantities, prices, price index.

Each check appends :class:`~ecovalue.errors.Problem` records (where, what, expected, fix) and
never stops at the first. A problem that repeats on many rows is one problem naming the rows
("lines 2, 3, … (130 rows)"), and a value that is not what was expected is echoed as it was
written (``'12,5 t'``, ``'2023年'``). Quantities are converted to the canonical units of
``expectations.py`` and checked against ``plausibility.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ecovalue.datasets.expectations import ECOSYSTEM_TYPES, LANDCOVER_COLUMNS, statistics_unit
from ecovalue.datasets.manifest import Manifest
from ecovalue.datasets.plausibility import (
    PRODUCT_PRICE_PER_T,
    STATISTICS,
    TABLE_CEILING,
    Plausible,
    slip_hint,
)
from ecovalue.errors import Problem, UnitError
from ecovalue.units import conversion_factor, format_unit, parse_unit

if TYPE_CHECKING:
    from ecovalue.datasets.validation import Needs

STATISTICS_COLUMNS = ["region_code", "year", "item", "indicator", "quantity", "unit", "source"]
REPORTED_COLUMNS = ["region_code", "year", "indicator", "ecosystem_type", "quantity", "unit",
                    "department", "mode", "source", "sub_item"]  # source, sub_item optional
PRICES_COLUMNS = ["item", "value", "unit", "price_year", "region", "source"]
PROVISIONING = ("agriculture", "forestry", "livestock", "fishery", "other_products")
MAX_LISTED = 8  # how many offending items a message lists before "…"


def _shown(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float | np.floating) else str(v)


def listing(items: Iterable[Any]) -> str:
    items = list(items)
    head = ", ".join(_shown(i) for i in items[:MAX_LISTED])
    return head + (f", … ({len(items)} in all)" if len(items) > MAX_LISTED else "")


def lines(where: str, index: Iterable[Any]) -> str:
    """``where`` with the CSV line numbers of the rows ``index`` (header = line 1)."""
    nums = [int(i) + 2 for i in index]
    word = "line" if len(nums) == 1 else "lines"
    return f"{where} {word} {listing(nums)}"


def table_path(manifest: Manifest, key: str) -> str:
    return manifest.tables[key].path if key in manifest.tables else f"tables.{key}"


def numeric(df: pd.DataFrame, col: str, where: str, problems: list[Problem], expected: str,
            required: bool = True) -> pd.Series:
    """Column ``col`` as float64; every cell that is not a finite number is reported once per
    distinct text written, echoing it (NaN in the result)."""
    raw = df[col]
    as_text = raw.astype(object).where(raw.notna(), "")
    vals = pd.to_numeric(raw, errors="coerce").astype(np.float64)
    bad = ~np.isfinite(vals.to_numpy())
    if not bad.any():
        return vals
    texts = as_text[bad].astype(str).str.strip()
    for text, rows in texts.groupby(texts, sort=False):
        if text == "" and not required:
            continue
        what = f"{col} is empty" if text == "" else f"{col} '{text}' is not a number"
        fix = ("fill in the number" if text == "" else
               "write plain digits (a dot for decimals, no thousands separators, no units or words: "
               "the unit belongs in the unit column)")
        problems.append(Problem(lines(where, rows.index), what + (f" ({len(rows)} rows)" if len(rows) > 1 else ""),
                                expected, fix))
    return vals.where(~bad, np.nan)


def years(df: pd.DataFrame, where: str, problems: list[Problem]) -> pd.Series:
    """The ``year`` column as nullable integers; a year written with words or decimals
    ('2023年', '2023.5') is reported with what was written."""
    vals = numeric(df, "year", where, problems, "a year as four digits, e.g. 2023")
    frac = vals.notna() & (vals != vals.round())
    if frac.any():
        problems.append(Problem(lines(where, vals.index[frac]), f"year {listing(vals[frac].unique())} is not a whole "
                                "number", "a year as four digits, e.g. 2023", "write the year without decimals"))
    return vals.where(~frac).round().astype("Int64")


def read_csv(root: Path, manifest: Manifest, key: str, columns: list[str], problems: list[Problem],
             required: bool) -> pd.DataFrame | None:
    """Table ``key`` of the manifest as text cells (numbers are checked by the caller)."""
    if key not in manifest.tables:
        if required:
            problems.append(Problem("dataset.toml [tables]", f"no '{key}' table", f"[tables.{key}] with a CSV path",
                                    "add the table (see docs/dataset-format.md)"))
        return None
    path = root / manifest.tables[key].path
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(manifest.tables[key].path, "file not found", f"the {key} CSV table",
                                "check the path in dataset.toml"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(manifest.tables[key].path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})",
                                "a UTF-8 CSV file", "save it as CSV UTF-8 (Excel: 另存为 → CSV UTF-8)"))
        return None
    except Exception as exc:  # noqa: BLE001 - pandas' parser errors have no common base
        problems.append(Problem(manifest.tables[key].path, f"cannot be read as CSV ({exc})", "a UTF-8 CSV file",
                                "save it as CSV (UTF-8)"))
        return None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        problems.append(Problem(manifest.tables[key].path, f"lacks columns {missing} (has {list(df.columns)})",
                                f"columns {columns}", "add or rename the columns (see docs/dataset-format.md)"))
        return None
    return df


# ------------------------------------------------------------------ land cover


def load_landcover_table(root: Path, manifest: Manifest, problems: list[Problem]) -> pd.DataFrame | None:
    df = read_csv(root, manifest, "landcover", ["code", "name_zh", "ecosystem_type"], problems, required=True)
    if df is None:
        return None
    declared = manifest.tables["landcover"].units
    return normalise_landcover_table(df, declared, manifest.tables["landcover"].path, problems)


def normalise_landcover_table(df: pd.DataFrame, declared_units: dict[str, str], where: str,
                              problems: list[Problem]) -> pd.DataFrame | None:
    """Check codes, ecosystem types, units and ranges; convert columns to canonical units."""
    out = df.copy()
    n_before = len(problems)
    codes = numeric(out, "code", f"{where} column code:", problems, "an integer land-cover code")
    if len(problems) > n_before:
        return None
    if (codes != codes.round()).any() or codes.duplicated().any():
        dup = listing(codes[codes.duplicated() | (codes != codes.round())].tolist())
        problems.append(Problem(where, f"has non-integer or duplicate codes [{dup}]", "one row per land-cover code",
                                "give every row a unique integer code"))
        return None
    out["code"] = codes.astype(int)
    out["ecosystem_type"] = out["ecosystem_type"].astype(object).where(out["ecosystem_type"].notna(), "")
    bad_types = sorted(set(out["ecosystem_type"].astype(str)) - set(ECOSYSTEM_TYPES))
    if bad_types:
        problems.append(Problem(f"{where} column ecosystem_type", f"unknown types {bad_types}",
                                f"one of {list(ECOSYSTEM_TYPES)}", "map each class to one of these types"))
    for col in out.columns:
        if col in LANDCOVER_COLUMNS:
            _landcover_column(out, col, declared_units.get(col), where, problems)
    return out.set_index("code", drop=False)


def _landcover_column(out: pd.DataFrame, col: str, unit: str | None, where: str, problems: list[Problem]) -> None:
    canonical, lo, hi = LANDCOVER_COLUMNS[col]
    at = f"{where} column {col}"
    if unit is None:
        problems.append(Problem(at, "has no unit", f"a unit convertible to {canonical}",
                                f"add {col} = \"{canonical}\" to units in [tables.landcover] of dataset.toml"))
        return
    try:
        factor = conversion_factor(unit, canonical, at)
    except UnitError as exc:
        problems.append(Problem(at, str(exc), f"a unit convertible to {canonical}", "correct the unit in dataset.toml"))
        return
    raw = out[col].astype(object).where(out[col].notna(), "")
    vals = pd.to_numeric(out[col], errors="coerce")
    if vals.isna().any():
        rows = [f"{c} ('{t}')" for c, t in zip(out.loc[vals.isna(), "code"], raw[vals.isna()], strict=True)]
        problems.append(Problem(at, f"has empty or non-numeric values for codes {listing(rows)}",
                                "a number for every class (0 where the service does not apply)", "fill in the values"))
        return
    vals = vals * factor
    bad = out.loc[(vals < lo) | (vals > hi), "code"].tolist()
    if bad:
        problems.append(Problem(at, f"values outside [{lo:g}, {hi:g}] {canonical} for codes {listing(bad)}",
                                f"{col} within [{lo:g}, {hi:g}] {canonical}", "check the value and its unit"))
    out[col] = vals.astype(float)


def check_landcover_codes(lc: np.ndarray, mask: np.ndarray, table: pd.DataFrame, where: str) -> list[Problem]:
    """A land-cover code present in the raster but missing from the table is an error."""
    present = np.unique(lc[mask])
    missing = sorted(int(c) for c in set(present.tolist()) - set(int(c) for c in table.index))
    if not missing:
        return []
    counts = {c: int((lc[mask] == c).sum()) for c in missing[:MAX_LISTED]}
    return [Problem(where, f"land-cover codes {listing(missing)} occur in the raster "
                    f"(pixels: {counts}) but have no row in the land-cover table",
                    "a row for every code in the land-cover raster",
                    "add rows for these codes (never leave them out: they would count as zero)")]


def check_landcover_columns(table: pd.DataFrame, needs: Needs, where: str) -> list[Problem]:
    """The columns the profile's indicators read, and the rules of those that need more than
    a range (pest control: flags 0 or 1, on forest and grassland classes only)."""
    missing = sorted(needs.landcover_columns - set(table.columns))
    if missing:
        return [Problem(where, f"lacks columns {missing} needed by the profile's indicators",
                        "the columns listed in docs/dataset-format.md",
                        "add the columns, or drop the indicators that need them from your profile")]
    if "pest_control" not in needs.landcover_columns:
        return []
    problems: list[Problem] = []
    flags = table["pest_control"]
    odd = table.loc[(flags != 0) & (flags != 1)]
    if len(odd):
        problems.append(Problem(f"{where} column pest_control", f"codes {listing(odd['code'])} have values "
                                f"{listing(odd['pest_control'].unique())}", "0 or 1 (1 = natural forest or grassland "
                                "that heals itself)", "write 1 or 0 for every class"))
    flagged = table.loc[(flags == 1) & ~table["ecosystem_type"].isin(["forest", "grassland"])]
    if len(flagged):
        rows = [f"{c} {n} ({t})" for c, n, t in zip(flagged["code"], flagged["name_zh"], flagged["ecosystem_type"],
                                                      strict=True)]
        problems.append(Problem(
            f"{where} column pest_control", f"classes {listing(rows)} are flagged 1, but the profile switch "
            "pest_control values only forest and grassland (the costs pest.forest_cost and pest.grassland_cost [S1])",
            "pest_control = 1 only on classes whose ecosystem_type is forest or grassland",
            "set pest_control = 0 for these classes, or map them to forest/grassland if that is what they are"))
    return problems


# ------------------------------------------------------------------ statistics


def load_statistics(root: Path, manifest: Manifest, problems: list[Problem]) -> pd.DataFrame | None:
    df = read_csv(root, manifest, "statistics", ["region_code", "year", "item", "quantity", "unit"], problems,
                  required=False)
    if df is None:
        return None
    return normalise_statistics(df, manifest.tables["statistics"].path, problems)


def normalise_statistics(df: pd.DataFrame, where: str, problems: list[Problem]) -> pd.DataFrame:
    """Check every statistics row (year, item, unit, quantity, duplicates, plausibility) and
    convert quantities to canonical units; rows with an error keep NaN."""
    df = df.reset_index(drop=True).copy()
    for col in ("indicator", "source"):
        if col not in df.columns:
            df[col] = ""
        df[col] = df[col].fillna("").astype(str)
    for col in ("region_code", "item", "unit"):
        df[col] = df[col].astype(object).where(df[col].notna(), "").astype(str).str.strip()
    df["year"] = years(df, where, problems)
    q = numeric(df, "quantity", f"{where} column quantity:", problems, "a number (0 where there is none)")
    empty_code = df["region_code"] == ""
    if empty_code.any():
        problems.append(Problem(lines(where, df.index[empty_code]), "region_code is empty",
                                "the code of a region of the regions layer", "fill in the region code"))
    canonical = df["item"].map(statistics_unit)
    unknown = canonical.isna()
    for item, rows in df[unknown].groupby("item", sort=False):
        problems.append(Problem(lines(where, rows.index), f"unknown item '{item}'", "an item of docs/dataset-format.md",
                                "rename the item or remove the row (it is ignored)", severity="warning"))
    known = ~unknown & q.notna()
    q = _convert(df, q, canonical, known, where, problems)
    df["unit"] = np.where(known & (canonical != "*") & q.notna(), canonical.fillna(""), df["unit"])
    df["quantity"] = q
    _statistics_values(df, where, problems)
    _duplicates(df, ["region_code", "year", "item"], where, problems, "statistics row")
    products = df["item"].str.startswith("product:") & ~df["indicator"].isin(PROVISIONING)
    for ind, rows in df[products].groupby("indicator", sort=False):
        problems.append(Problem(lines(where, rows.index), f"product rows have indicator '{ind}'",
                                f"one of {', '.join(PROVISIONING)}", "fill in the indicator column for product rows"))
    return df


def _convert(df: pd.DataFrame, q: pd.Series, canonical: pd.Series, rows: pd.Series, where: str,
             problems: list[Problem]) -> pd.Series:
    """Quantities converted to their items' canonical units, one factor per distinct pair of
    units; rows without a usable unit are reported once per unit written and left NaN."""
    out = q.copy()
    sub = df[rows]
    for unit, grp in sub.groupby("unit", sort=False):
        n = f" ({len(grp)} rows)" if len(grp) > 1 else ""
        items = listing(grp["item"].unique())
        problem = None
        if unit == "":
            problem = f"no unit{n} for {items}"
        else:
            try:
                parse_unit(str(unit), "unit")
            except UnitError:
                problem = f"unit '{unit}'{n} of {items} is not a unit pint understands"
        if problem is not None:
            problems.append(Problem(lines(where, grp.index), problem, "the unit of each quantity, e.g. t, m**3, 万m3, "
                                    "kW*h, CNY/visit (docs/dataset-format.md)", "fill in or correct the unit column"))
            out[grp.index] = np.nan
            continue
        for target, part in grp.groupby(canonical[grp.index], sort=False):
            if target == "*":
                continue
            try:
                out[part.index] = q[part.index] * conversion_factor(str(unit), str(target), "unit")
            except UnitError:
                m = f" ({len(part)} rows)" if len(part) > 1 else ""
                problems.append(Problem(lines(where, part.index), f"unit '{unit}'{m} of {listing(part['item'].unique())} "
                                        f"cannot be converted to {format_unit(target)}",
                                        f"a unit convertible to {format_unit(target)}",
                                        "correct the unit (docs/dataset-format.md lists each item's unit)"))
                out[part.index] = np.nan
    return out


def _statistics_values(df: pd.DataFrame, where: str, problems: list[Problem]) -> None:
    """Negative, impossibly large and implausible quantities, one problem per item."""
    q = df["quantity"]
    for item, rows in df[q < 0].groupby("item", sort=False):
        problems.append(Problem(lines(where, rows.index), f"{item} quantity {listing(rows['quantity'])} is negative",
                                "a quantity ≥ 0", "correct the number"))
    for item, rows in df[q > TABLE_CEILING].groupby("item", sort=False):
        problems.append(Problem(lines(where, rows.index), f"{item} quantity {listing(rows['quantity'])} "
                                f"{rows['unit'].iloc[0]} is larger than any region's total can be",
                                f"at most {TABLE_CEILING:g} in the item's unit (the world's GDP is ≈ 7e14 CNY)",
                                "correct the number (a typo, or an exponent where a value was meant)"))
    for item, spec in STATISTICS.items():
        rows = df[(df["item"] == item) & q.between(0, TABLE_CEILING)]
        problems += range_problems(rows, spec, where, item)


def range_problems(rows: pd.DataFrame, spec: Plausible, where: str, item: str) -> list[Problem]:
    """Rows of one quantity beyond its physical limits (errors) or its plausible range
    (a warning that proposes the unit slip, if one explains the values)."""
    q = rows["quantity"]
    out: list[Problem] = []
    beyond = ((q < spec.floor) if spec.floor is not None else False) | (
        (q > spec.ceiling) if spec.ceiling is not None else False)
    if np.any(beyond):
        out.append(Problem(lines(where, rows.index[beyond]), f"{item} {listing(q[beyond])} {spec.unit} is impossible "
                           f"for {spec.quantity}", f"within [{spec.floor}, {spec.ceiling}] {spec.unit}",
                           "correct the number or its unit"))
    outside = ~beyond & (((q < spec.lo) if spec.lo is not None else False) | (
        (q > spec.hi) if spec.hi is not None else False))
    if np.any(outside):
        vals = q[outside]
        hint = slip_hint((float(vals.min()), float(vals.max())), spec)
        out.append(Problem(lines(where, rows.index[outside]), f"{item} {listing(vals)} {spec.unit} is outside the "
                           f"plausible range {spec.range_text()} of {spec.quantity}",
                           f"{spec.range_text()} ({spec.source})",
                           "check the number and its unit" + (f": {hint}" if hint else "")
                           + "; if it is right, keep it (this is a warning)", severity="warning"))
    return out


def _duplicates(df: pd.DataFrame, keys: list[str], where: str, problems: list[Problem], what: str) -> None:
    """Rows that repeat the key of an earlier row: each is an error (they would be added up)."""
    dup = df.duplicated(keys, keep=False) & df[keys].notna().all(axis=1)
    if not dup.any():
        return
    groups = list(df[dup].groupby(keys, sort=False))
    shown = groups[:MAX_LISTED]
    for key, rows in shown:
        vals = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in rows["quantity"])
        problems.append(Problem(
            lines(where, rows.index), f"{len(rows)} rows give the same {what} ({', '.join(map(str, key))}): {vals} "
            f"{rows['unit'].iloc[0]}", f"one row per {', '.join(keys)}",
            "delete the repeated rows; if they are parts of one total (e.g. two departments), add them into one row"))
    if len(groups) > len(shown):
        rest = sum(len(r) for _k, r in groups[len(shown):])
        problems.append(Problem(where, f"{len(groups) - len(shown)} more keys repeat ({rest} rows); the table may have "
                                "been pasted twice", f"one row per {', '.join(keys)}", "remove the repeated rows"))


def check_statistics(stats: pd.DataFrame, region_codes: list[str], needs: Needs, where: str) -> list[Problem]:
    """Every region needs every required item for every accounting year."""
    problems: list[Problem] = []
    unknown = sorted(set(stats["region_code"]) - set(region_codes) - {""})
    if unknown:
        problems.append(Problem(where, f"rows for unknown region codes {listing(unknown)}",
                                f"codes of the regions layer ({listing(region_codes)})",
                                "correct the codes or add the regions", severity="warning"))
    for year in needs.years:
        ys = stats[stats["year"] == year]
        if ys.empty and (needs.statistics_items or needs.provisioning):
            have = sorted(int(y) for y in stats["year"].dropna().unique())
            problems.append(Problem(f"{where} column year", f"no row has year {year} (the years written are "
                                    f"{listing(have) if have else 'none'})", f"rows for year {year}",
                                    f"add the {year} statistics, write the year as digits, or account another year "
                                    f"(--year)"))
            continue
        problems += _missing_items(ys, region_codes, needs, where, year)
    return problems


def _missing_items(ys: pd.DataFrame, region_codes: list[str], needs: Needs, where: str, year: int) -> list[Problem]:
    problems: list[Problem] = []
    have = set(zip(ys["region_code"], ys["item"], strict=True))
    for item, inds in sorted(needs.statistics_items.items()):
        lacking = [c for c in region_codes if (c, item) not in have]
        if lacking:
            problems.append(Problem(where, f"'{item}' (needed by {', '.join(sorted(inds))}) missing for year "
                                    f"{year} in regions {listing(lacking)}",
                                    "a row per region and year (write 0 if there truly is none)",
                                    f"add '{item}' rows for these regions"))
    for ind in sorted(needs.provisioning):
        if needs.provisioning_method == "reported_output_value":
            rows = ys[ys["item"] == f"output_value:{ind}"]
        else:
            rows = ys[(ys["indicator"] == ind) & ys["item"].str.startswith("product:")]
        if rows.empty:
            problems.append(Problem(where, f"no {ind} statistics for year {year} in any region",
                                    f"product rows (or output_value:{ind}) for {ind}",
                                    f"add them, or drop '{ind}' from your profile"))
    return problems


# ------------------------------------------------------------------ reported quantities


def load_reported(root: Path, manifest: Manifest, problems: list[Problem]) -> pd.DataFrame | None:
    df = read_csv(root, manifest, "reported", REPORTED_COLUMNS[:8], problems, required=False)
    if df is None:
        return None
    where = manifest.tables["reported"].path
    df = df.reset_index(drop=True)
    for col in ("source", "sub_item"):  # optional columns
        if col not in df.columns:
            df[col] = ""
    for col in ("region_code", "indicator", "ecosystem_type", "unit", "department", "mode", "source",
                "sub_item"):
        df[col] = df[col].astype(object).where(df[col].notna(), "").astype(str).str.strip()
    df["quantity"] = numeric(df, "quantity", f"{where} column quantity:", problems, "a number ≥ 0")
    df["year"] = years(df, where, problems)
    return df


def check_reported(df: pd.DataFrame, region_codes: list[str], where: str) -> list[Problem]:
    """Reported quantities must name a known region, indicator, mode, ecosystem type and a
    unit compatible with the indicator's; quantities are converted to it in place."""
    from ecovalue.accounting.catalogue import INDICATORS

    problems: list[Problem] = []

    def each(mask: pd.Series, col: str, what: str, expected: str, fix: str) -> None:
        for value, rows in df[mask].groupby(col, sort=False):
            problems.append(Problem(lines(where, rows.index), what.format(value), expected, fix))

    codes = df["region_code"].astype(str)
    each(~codes.isin(region_codes), "region_code", "unknown region code '{}'",
         f"a code of the regions layer ({listing(region_codes)})", "correct the code")
    known = df["indicator"].astype(str).isin(list(INDICATORS))
    each(~known, "indicator", "unknown indicator '{}'", f"one of {sorted(INDICATORS)}",
         "use the indicator id of the catalogue")
    each(~df["mode"].isin(["replace", "complement"]), "mode", "mode '{}'", "replace or complement",
         "set the mode column")
    et = df["ecosystem_type"].fillna("").astype(str)
    each(~et.isin(["", "all", *ECOSYSTEM_TYPES]), "ecosystem_type", "ecosystem_type '{}'",
         f"empty, 'all' or one of {list(ECOSYSTEM_TYPES)}", "correct the ecosystem type")
    for (ind, sub), rows in df[known & (df["sub_item"] != "")].groupby(["indicator", "sub_item"], sort=False):
        subs = [x.id for x in INDICATORS[str(ind)].sub_items]
        if sub not in subs:
            problems.append(Problem(
                lines(where, rows.index), f"sub_item '{sub}' of {ind}",
                f"empty (the indicator's total) or one of {subs}" if subs else "empty: the indicator has no sub-items",
                "correct the sub_item column (docs/dataset-format.md lists each indicator's sub-items)"))
    q = pd.to_numeric(df["quantity"], errors="coerce")
    neg = q < 0
    if neg.any():
        problems.append(Problem(lines(where, df.index[neg]), f"quantity {listing(q[neg])} is negative", "a number ≥ 0",
                                "correct the quantity"))
    for (unit, ind), rows in df[known].groupby(["unit", "indicator"], sort=False):
        target = INDICATORS[str(ind)].physical_unit
        try:
            factor = conversion_factor(str(unit), target, f"unit of {ind}")
        except UnitError as exc:
            problems.append(Problem(lines(where, rows.index), str(exc), f"a unit convertible to {target}",
                                    "correct the unit"))
            continue
        df.loc[rows.index, "quantity"] = q[rows.index] * factor
        df.loc[rows.index, "unit"] = target
        big = rows.index[(q[rows.index] * factor) > TABLE_CEILING]
        if len(big):
            problems.append(Problem(lines(where, big), f"{ind} quantity {listing(q[big])} {unit} is larger than any "
                                    "region's total can be", f"at most {TABLE_CEILING:g} {target}",
                                    "correct the number (a typo, or an exponent where a value was meant)"))
    return problems


def _overlap(a: str, b: str) -> bool:
    """Two scopes of ecosystem type or sub-item overlap: equal, or one of them is '' (all)."""
    return a == b or not a or not b


def _num(x: Any) -> str:
    try:
        return f"{float(x):g}"
    except (TypeError, ValueError):
        return repr(x)


def reported_conflicts(df: pd.DataFrame, where: str) -> list[Problem]:
    """Two reported rows for the same pixels — same year, region and indicator, overlapping
    ecosystem types ('' / 'all' = every type) and sub-items ('' = the total) — in any mode:
    the one applied last would win silently, so each pair is an error naming both lines."""
    problems: list[Problem] = []
    if df.empty:
        return problems
    et = df["ecosystem_type"].astype(object).where(df["ecosystem_type"].notna(), "").astype(str)
    et = et.where(~et.isin(["all", "nan"]), "")
    sub = (df["sub_item"].astype(object).where(df["sub_item"].notna(), "").astype(str)
           if "sub_item" in df.columns else pd.Series("", index=df.index))
    keys = zip(df["year"], df["region_code"].astype(str), df["indicator"].astype(str), strict=True)
    groups: dict[tuple[Any, str, str], list[Any]] = {}
    for i, key in zip(df.index, keys, strict=True):
        groups.setdefault(key, []).append(i)
    for (year, code, ind), idx in groups.items():
        for n, i in enumerate(idx):
            for j in idx[:n]:
                if not (_overlap(et[i], et[j]) and _overlap(sub[i], sub[j])):
                    continue
                scope = " ".join(x for x in (et[i] or et[j], sub[i] or sub[j]) if x) or "all types"
                problems.append(Problem(
                    f"{where} lines {int(j) + 2} and {int(i) + 2}",
                    f"two rows report {ind} for region {code} in {year} for the same pixels ({scope}; "
                    f"{df.at[j, 'mode']} {_num(df.at[j, 'quantity'])} by {df.at[j, 'department']}, "
                    f"{df.at[i, 'mode']} {_num(df.at[i, 'quantity'])} by {df.at[i, 'department']})",
                    "one number per region, indicator, ecosystem type and sub-item",
                    "keep the row that is right and delete the other, or split them by ecosystem_type "
                    "or sub_item so that they cover different pixels"))
    return problems


# ------------------------------------------------------------------ prices and price index


def load_prices(root: Path, manifest: Manifest, problems: list[Problem]) -> pd.DataFrame | None:
    df = read_csv(root, manifest, "prices", PRICES_COLUMNS[:4], problems, required=False)
    if df is None:
        return None
    where = manifest.tables["prices"].path
    df = df.reset_index(drop=True)
    for col in ("region", "source"):
        if col not in df.columns:
            df[col] = ""
        df[col] = df[col].fillna("").astype(str)
    df["item"] = df["item"].fillna("").astype(str).str.strip()
    df["unit"] = df["unit"].fillna("").astype(str).str.strip()
    value = numeric(df, "value", f"{where} column value:", problems, "a price (a number ≥ 0)")
    py = numeric(df, "price_year", f"{where} column price_year:", problems, "a year such as 2023", required=False)
    df["price_year"] = py.round().astype("Int64")
    _duplicates(df.assign(quantity=value), ["item"], where, problems, "price item")
    for unit, rows in df.groupby("unit", sort=False):
        try:
            u = parse_unit(str(unit), "unit")
        except UnitError as exc:
            problems.append(Problem(lines(where, rows.index), str(exc), "a price unit such as CNY/t", "correct the unit"))
            continue
        if "[currency]" not in str(u.dimensionality):
            problems.append(Problem(lines(where, rows.index), f"unit '{unit}' is not a price",
                                    "CNY per unit of quantity", "write e.g. CNY/t"))
            continue
        try:
            per_t = value[rows.index] * conversion_factor(str(unit), PRODUCT_PRICE_PER_T.unit, "unit")
        except UnitError:
            continue  # a price per m³, per head …: no plausible range
        problems += range_problems(pd.DataFrame({"quantity": per_t}, index=rows.index), PRODUCT_PRICE_PER_T, where,
                                   "price")
    df["value"] = df["value"].fillna("").astype(str).str.strip()  # as written: Decimal exactly once, later
    return df


def load_price_index(root: Path, manifest: Manifest, problems: list[Problem]) -> dict[int, float] | None:
    df = read_csv(root, manifest, "price_index", ["year", "index"], problems, required=False)
    if df is None:
        return None
    where = manifest.tables["price_index"].path
    df = df.reset_index(drop=True)
    y = years(df, where, problems)
    v = numeric(df, "index", f"{where} column index:", problems, "a positive number")
    nonpos = v <= 0
    if nonpos.any():
        problems.append(Problem(lines(where, df.index[nonpos]), f"index {listing(v[nonpos])} is not positive",
                                "a positive number", "correct the index value"))
    _duplicates(df.assign(year=y, quantity=v, unit=""), ["year"], where, problems, "year")
    ok = y.notna() & v.notna() & (v > 0)
    return {int(a): float(b) for a, b in zip(y[ok], v[ok], strict=True)}


def check_price_years(index: dict[int, float], prices: pd.DataFrame | None, needs: Needs,
                      where: str) -> list[Problem]:
    """Prices are restated from their price year to the accounting year and valued at the base
    year with the price index: every one of these years needs an index value (else the prices
    stay unrestated, a warning)."""
    wanted: dict[int, list[str]] = {}
    for pid, year in needs.price_years.items():
        wanted.setdefault(year, []).append(pid)
    if prices is not None and needs.restate_prices:
        for item, year in zip(prices["item"], prices["price_year"], strict=True):
            if not pd.isna(year):
                wanted.setdefault(int(year), []).append(f"price.{item}")
    for y in needs.years:
        wanted.setdefault(y, []).append(f"the accounting year {y}")
    if needs.base_year is not None:
        wanted.setdefault(needs.base_year, []).append(f"the profile's constant-price base year {needs.base_year}")
    if not (needs.restate_prices or needs.base_year is not None) or not wanted:
        return []
    lacking = sorted(y for y in wanted if y not in index)
    if not lacking:
        return []
    uses = "; ".join(f"{y}: {listing(wanted[y])}" for y in lacking)
    have = f"{min(index)}–{max(index)}" if index else "no years"
    return [Problem(where, f"the price index has no value for {listing(lacking)} (it covers {have}), needed by {uses}",
                    "an index value for every price year, the accounting year and the base year",
                    "add those years to the price index; prices of a missing year are NOT restated and constant "
                    "prices equal current ones (or set restate_prices = false in your profile)", severity="warning")]


@dataclass
class Tables:
    """The statistics, reported quantities, prices and price index of a dataset (empty when
    the dataset has none)."""

    statistics: pd.DataFrame
    reported: pd.DataFrame
    prices: pd.DataFrame
    price_index: dict[int, float]


def load_tables(root: Path, manifest: Manifest, region_codes: list[str], needs: Needs,
                problems: list[Problem]) -> Tables:
    """Read the statistics, reported, prices and price-index tables and check them against the
    regions and what the profile needs (items, prices, the price index's years); problems are
    appended to ``problems``, with the profile's own warnings (``needs.profile_warnings``)."""
    stats = load_statistics(root, manifest, problems)
    reported = load_reported(root, manifest, problems)
    prices = load_prices(root, manifest, problems)
    index = load_price_index(root, manifest, problems)
    if stats is not None:
        problems += check_statistics(stats, region_codes, needs, where=table_path(manifest, "statistics"))
    if reported is not None:
        problems += check_reported(reported, region_codes, table_path(manifest, "reported"))
        problems += reported_conflicts(reported, table_path(manifest, "reported"))
    if stats is not None and prices is not None and needs.years:
        problems += check_prices(stats, prices, needs, table_path(manifest, "prices"))
    problems += check_price_years(index or {}, prices, needs, table_path(manifest, "price_index"))
    problems += list(needs.profile_warnings)
    return Tables(
        statistics=stats if stats is not None else pd.DataFrame(columns=STATISTICS_COLUMNS),
        reported=reported if reported is not None else pd.DataFrame(columns=REPORTED_COLUMNS),
        prices=prices if prices is not None else pd.DataFrame(columns=PRICES_COLUMNS),
        price_index=index or {},
    )


def check_prices(stats: pd.DataFrame, prices: pd.DataFrame, needs: Needs, where: str) -> list[Problem]:
    """Every product quantity needs a price whose unit matches the quantity's unit."""
    if needs.provisioning_method != "quantity_x_price" or not needs.provisioning:
        return []
    problems: list[Problem] = []
    by_item = {str(r["item"]): r for _, r in prices.iterrows()}
    rows = stats[stats["item"].str.startswith("product:") & stats["year"].isin(list(needs.years))
                 & stats["indicator"].isin(list(needs.provisioning)) & stats["quantity"].notna()]
    for item, grp in rows.groupby("item"):
        if item not in by_item:
            problems.append(Problem(where, f"no price for '{item}'", f"a row item={item} with value and unit",
                                    f"add the local price of {str(item)[8:]} (CNY per {grp['unit'].iloc[0]})"))
            continue
        punit = str(by_item[item]["unit"])
        for qunit in sorted(set(grp["unit"])):
            try:
                conversion_factor(f"({qunit}) * ({punit})", "CNY", f"price of {item}")
            except UnitError:
                problems.append(Problem(where, f"price of '{item}' is in {punit} but quantities are in {qunit}",
                                        f"a price in CNY per {qunit}", "make the units match"))
    return problems
