"""Parameter profiles: which indicators a run includes, method choices, switches and the
parameter register, as a versioned TOML file.

Shipped profiles live in ``accounting/profiles/<id>.toml``. A user profile may
``extends = "cn-2022"`` (or a path) and override or add indicators, switches, methods and
parameters. The profile's hash goes into every run's provenance.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecovalue.accounting.catalogue import ECOSYSTEM_TYPES, INDICATORS
from ecovalue.accounting.parameters import (
    Parameter,
    ParameterRegister,
    check_parameter,
    make_parameter,
)
from ecovalue.errors import EcovalueError, Problem, ProfileError, ValidationFailed

PROFILE_DIR = Path(__file__).parent / "profiles"

KNOWN_SWITCHES = {
    "pest_control": "include 病虫害控制 (pest control)",
    "oxygen_release": "include 释氧 (oxygen release) as a separate item",
    "vegetation_flood_regulation": "count flood storage of vegetation and soil",
    "cap_air_by_emissions": "cap air purification by each region's reported emissions",
    "cap_water_by_loads": "cap water purification by each region's reported pollutant loads",
    "restate_prices": "restate unit prices from their price year to the accounting year with the price index",
}
KNOWN_METHODS = {
    "provisioning": ("quantity_x_price", "reported_output_value"),
    "recreation": ("travel_cost", "reported_revenue"),
    "routing": ("d8", "mfd"),
    "ls_formulation": ("desmet_govers", "invest"),
    "carbon_basis": ("npp", "nep"),
}


@dataclass(frozen=True)
class Profile:
    """A resolved profile (after ``extends``)."""

    id: str
    name_zh: str
    name_en: str
    standard: str
    base_year: int
    indicators: tuple[str, ...]
    switches: dict[str, bool]
    methods: dict[str, str]
    parameters: ParameterRegister
    scopes: dict[str, tuple[str, ...]]  # indicator -> ecosystem types it applies to / is allocated over
    raw: dict[str, Any] = field(repr=False)
    warnings: tuple[Problem, ...] = ()
    """Parameters outside their plausible range (``datasets.plausibility``): every run of
    the profile prints them at the top and keeps them in its ``warnings``."""

    @property
    def hash(self) -> str:
        """sha256 of the resolved profile content (stable across key order)."""
        blob = json.dumps(self.raw, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def includes(self, indicator: str) -> bool:
        return indicator in self.indicators


def available_profiles() -> list[str]:
    # <id>.uncertainty.toml files beside a profile hold its parameter distributions, not profiles
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml") if not p.name.endswith(".uncertainty.toml"))


def _read(ref: str | Path, base_dir: Path | None) -> tuple[dict[str, Any], Path]:
    path = Path(ref)
    if not path.suffix:
        path = PROFILE_DIR / f"{ref}.toml"
    elif not path.is_absolute() and base_dir is not None and not path.exists():
        path = base_dir / path
    if not path.exists():
        raise ProfileError(
            f"profile '{ref}' not found (no shipped profile of that id, no file {path}); expected one of "
            f"{available_profiles()} or the path of a .toml profile file; fix: pass --profile cn-2022, or "
            "the path of your own profile (it may `extends = \"cn-2022\"`)"
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), path
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {path}: not valid TOML ({exc}); fix the syntax at that line "
                           "(a table header is [name], a string value is quoted)") from exc
    except (UnicodeDecodeError, OSError) as exc:
        raise ProfileError(f"profile {path}: cannot be read as UTF-8 text ({exc}); save it as UTF-8") from exc


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, val in over.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], val)
        else:
            out[key] = val
    return out


def _resolve_raw(ref: str | Path, base_dir: Path | None, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    raw, path = _read(ref, base_dir)
    if str(path) in seen:
        raise ProfileError(f"{path}: 'extends' makes a cycle: {' → '.join(seen)}")
    parent = raw.get("profile", {}).get("extends")
    if parent:
        base = _resolve_raw(parent, path.parent, (*seen, str(path)))
        _check_overrides(base.get("parameters", {}), raw.get("parameters", {}), path)
        raw = _merge(base, raw)
        raw["profile"]["extends"] = parent
    return raw


def _check_overrides(base: dict[str, Any], over: dict[str, Any], path: Path) -> None:
    """A parameter whose value a profile overrides must say where its own value comes from:
    merged into the base's table it would otherwise carry the base's source and price year."""
    problems = []
    for pid, entry in over.items():
        old = base.get(pid)
        if not isinstance(entry, dict) or not isinstance(old, dict) or "value" not in entry:
            continue
        lacking = [k for k in ("source", "unit") if k not in entry]
        if old.get("price_year") is not None and "price_year" not in entry:
            lacking.append("price_year")
        if lacking:
            problems.append(Problem(
                f"profile {path} [parameters.\"{pid}\"]",
                f"overrides the value ({old.get('value')} → {entry['value']}) without its own {', '.join(lacking)}: "
                f"the base's ({', '.join(f'{k} = {old.get(k)!r}' for k in lacking)}) would be reported for it",
                "an overriding value with its own source, unit (and price_year for a price)",
                f"add {', '.join(lacking)} to [parameters.\"{pid}\"] (write source = \"assumed — set your own\" if "
                "it has none)"))
    if problems:
        raise ValidationFailed(problems)


def load_profile(ref: str | Path) -> Profile:
    """Load a shipped profile by id or a profile file by path, resolving ``extends``."""
    raw = _resolve_raw(ref, None)
    where = f"profile '{ref}'"
    head = raw.get("profile", {})
    for key in ("id", "base_year"):
        if key not in head:
            raise ProfileError(f"{where}: [profile] has no '{key}'")
    indicators = tuple(raw.get("indicators", {}).get("include", ()))
    unknown = [i for i in indicators if i not in INDICATORS]
    if unknown:
        raise ProfileError(f"{where}: unknown indicators {unknown}; known: {sorted(INDICATORS)}")
    switches = {str(k): bool(v) for k, v in raw.get("switches", {}).items()}
    bad = [k for k in switches if k not in KNOWN_SWITCHES]
    if bad:
        raise ProfileError(f"{where}: unknown switches {bad}; known: {sorted(KNOWN_SWITCHES)}")
    methods = {str(k): str(v) for k, v in raw.get("methods", {}).items()}
    for k, v in methods.items():
        if k not in KNOWN_METHODS or v not in KNOWN_METHODS[k]:
            raise ProfileError(f"{where}: method {k} = '{v}' is not known; choose from {KNOWN_METHODS}")
    scopes = {str(k): tuple(str(t) for t in v) for k, v in raw.get("scopes", {}).items()}
    for k, types in scopes.items():
        bad_types = [t for t in types if t not in ECOSYSTEM_TYPES]
        if k not in INDICATORS or bad_types or not types:
            raise ProfileError(f"{where}: [scopes] {k} = {list(types)} — need a known indicator and a non-empty "
                               f"list of ecosystem types from {list(ECOSYSTEM_TYPES)}")
    if not switches.get("pest_control", False):
        indicators = tuple(i for i in indicators if i != "pest_control")
    if not switches.get("oxygen_release", True):
        indicators = tuple(i for i in indicators if i != "oxygen_release")
    params, problems = _parameters(raw, where)
    if any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems)
    register = ParameterRegister(params, origin=f"profile {head['id']}")
    for ind in indicators:
        for pid in INDICATORS[ind].parameters:
            if pid not in register:
                raise ProfileError(
                    f"{where}: indicator '{ind}' needs parameter '{pid}', which the profile does not define; "
                    f"add [parameters.\"{pid}\"] with value, unit, price_year, region and source"
                )
    return Profile(
        id=str(head["id"]), name_zh=str(head.get("name_zh", "")), name_en=str(head.get("name_en", "")),
        standard=str(head.get("standard", "")), base_year=int(head["base_year"]), indicators=indicators,
        switches=switches, methods=methods, parameters=register, scopes=scopes, raw=raw,
        warnings=tuple(problems),
    )


def _parameters(raw: dict[str, Any], where: str) -> tuple[dict[str, Parameter], list[Problem]]:
    """Every ``[parameters]`` entry as a :class:`Parameter`, and every problem of them at once
    (fields, unit, dimension against the unit the engine reads it in, physical and plausible
    range: :func:`parameters.check_parameter`)."""
    params: dict[str, Parameter] = {}
    problems: list[Problem] = []
    for pid, entry in raw.get("parameters", {}).items():
        at = f"{where} [parameters.\"{pid}\"]"
        if not isinstance(entry, dict):
            problems.append(Problem(at, f"is {entry!r}", "a table with value, unit, price_year, region and source",
                                    f"write [parameters.\"{pid}\"] with value = \"…\", unit = \"…\", source = \"…\""))
            continue
        try:
            params[pid] = make_parameter(pid, entry, where)
        except EcovalueError as exc:
            problems.append(Problem(at, str(exc), "value, unit and source as docs/design.md describes",
                                    "correct the entry"))
            continue
        problems += check_parameter(params[pid], at)
    return params, problems
