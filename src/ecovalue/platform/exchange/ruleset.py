"""Read a rule set of programmes (``rulesets/*.toml`` or a user's file) into :class:`Programme`s.

A user's rule set may start with ``extends = "cn-hubei-2026"`` and list only the programmes or
fields it changes; each field keeps its ``sources.<field>`` text, and a changed number without
a new source is labelled "set by <rule set id>". Every problem of a file is reported at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ecovalue.errors import DataFileError, Problem, ValidationFailed
from ecovalue.platform.exchange.rules import (
    Instrument,
    ParticipantKind,
    Programme,
    ProgrammeKind,
    SelfTrade,
    TradingMode,
)

RULESET_DIR = Path(__file__).parent / "rulesets"
DEFAULT_RULESET = "cn-hubei-2026"
_DECIMALS = ("tick", "lot", "fee_buy", "fee_sell", "band", "negotiated_band", "buffer_share",
             "floor_price", "min_parcel_m2")  # fmt: skip


@dataclass(frozen=True)
class RuleSet:
    """A versioned rule set: its programmes and the sha256 of the text(s) it was read from."""

    id: str
    version: int
    name_zh: str
    name_en: str
    programmes: Mapping[str, Programme]
    sha256: str

    def programme(self, code: str) -> Programme:
        try:
            return self.programmes[code]
        except KeyError:
            raise ValidationFailed(
                [Problem("programme", f"'{code}' is not in rule set {self.id}",
                         ", ".join(sorted(self.programmes)), "use one of the listed codes")]
            ) from None  # fmt: skip


def _read(name_or_path: str | Path) -> tuple[dict[str, Any], bytes]:
    path = Path(name_or_path)
    if not path.suffix:
        path = RULESET_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RULESET_DIR.glob("*.toml")))
        raise DataFileError(f"rule set {name_or_path} not found; shipped rule sets: {known}, "
                            "or give the path of a .toml file")  # fmt: skip
    raw = path.read_bytes()
    try:
        return tomllib.loads(raw.decode("utf-8")), raw
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataFileError(f"rule set {path}: not valid TOML ({exc})") from exc


def _merged(data: dict[str, Any], raw: bytes) -> tuple[dict[str, Any], str]:
    digest = hashlib.sha256(raw)
    parent = data.get("extends")
    if not parent:
        return data, digest.hexdigest()
    base, base_raw = _read(parent)
    base, base_hash = _merged(base, base_raw)
    digest.update(base_hash.encode())
    progs = {p["code"]: dict(p) for p in base.get("programme", [])}
    for p in data.get("programme", []):
        merged = {**progs.get(p.get("code", ""), {}), **p}
        sources = dict(progs.get(p.get("code", ""), {}).get("sources", {}))
        for key in p:
            if key != "sources" and key not in p.get("sources", {}):
                sources[key] = f"set by rule set {data.get('id', '?')}"
        merged["sources"] = {**sources, **p.get("sources", {})}
        progs[p.get("code", "")] = merged
    out = {**base, **{k: v for k, v in data.items() if k != "programme"}}
    out["defaults"] = {**base.get("defaults", {}), **data.get("defaults", {})}
    out["programme"] = list(progs.values())
    return out, digest.hexdigest()


def _decimal(raw: dict[str, Any], key: str, where: str, problems: list[Problem]) -> Decimal | None:
    if key not in raw:
        return None
    try:
        value = Decimal(str(raw[key]))
    except InvalidOperation:
        value = Decimal("NaN")
    if isinstance(raw[key], float) or not value.is_finite():
        problems.append(Problem(f"{where}: {key}", f"{raw[key]!r} is not an exact number",
                                'a quoted decimal such as "0.01"', "quote the number"))  # fmt: skip
        return None
    return value


def _enum_set(raw: dict[str, Any], key: str, enum: Any, where: str, problems: list[Problem]
              ) -> frozenset[Any]:  # fmt: skip
    out = set()
    for v in raw.get(key, []):
        try:
            out.add(enum(v))
        except ValueError:
            names = ", ".join(e.value for e in enum)
            problems.append(Problem(f"{where}: {key}", f"'{v}' is unknown", names,
                                    "use one of the listed values"))  # fmt: skip
    return frozenset(out)


def _programme(raw: dict[str, Any], defaults: dict[str, Any], problems: list[Problem]
               ) -> Programme | None:  # fmt: skip
    where = f"programme {raw.get('code', '?')}"
    merged = {**{k: v for k, v in defaults.items() if not k.endswith("_source")}, **raw}
    sources = {k.removesuffix("_source"): v for k, v in defaults.items() if k.endswith("_source")}
    sources = {**sources, **raw.get("sources", {})}
    if "fee" in sources:
        sources.setdefault("fee_buy", sources["fee"])
        sources.setdefault("fee_sell", sources["fee"])
    missing = [k for k in ("code", "kind", "name_zh", "name_en", "serial_prefix", "unit",
                           "places", "tick", "lot") if k not in merged]  # fmt: skip
    if missing:
        problems.append(Problem(where, f"fields {missing} are missing", "every required field",
                                "add them to the programme"))  # fmt: skip
        return None
    d = {k: _decimal(merged, k, where, problems) for k in _DECIMALS}
    try:
        kind, stp = ProgrammeKind(merged["kind"]), SelfTrade(merged["self_trade"])
    except (ValueError, KeyError) as exc:
        problems.append(Problem(where, f"kind or self_trade is wrong ({exc})",
                                "a ProgrammeKind and a SelfTrade value", "fix the value"))  # fmt: skip
        return None
    modes = _enum_set(merged, "modes", TradingMode, where, problems)
    holders = _enum_set(merged, "holder_kinds", ParticipantKind, where, problems)
    buyers = _enum_set(merged, "buyer_kinds", ParticipantKind, where, problems)
    known = {"code", "kind", "name_zh", "name_en", "serial_prefix", "unit", "places", "modes",
             "holder_kinds", "buyer_kinds", "settlement_days", "self_trade", "validity_years",
             "negotiated_approval", "scope", "sources", "call_interval_minutes", *_DECIMALS}  # fmt: skip
    if d["tick"] is None or d["lot"] is None or d["fee_buy"] is None or d["fee_sell"] is None:
        return None
    return Programme(
        code=str(merged["code"]), kind=kind, name_zh=str(merged["name_zh"]),
        name_en=str(merged["name_en"]), serial_prefix=str(merged["serial_prefix"]),
        unit=str(merged["unit"]), places=int(merged["places"]), tick=d["tick"], lot=d["lot"],
        modes=modes, holder_kinds=holders, buyer_kinds=buyers, fee_buy=d["fee_buy"],
        fee_sell=d["fee_sell"], band=d["band"], negotiated_band=d["negotiated_band"],
        settlement_days=int(merged.get("settlement_days", 0)), self_trade=stp,
        validity_years=merged.get("validity_years"), buffer_share=d["buffer_share"],
        floor_price=d["floor_price"], negotiated_approval=bool(merged.get("negotiated_approval")),
        scope=merged.get("scope"),
        extra={k: v for k, v in merged.items() if k not in known}
        | ({"min_parcel_m2": d["min_parcel_m2"]} if d["min_parcel_m2"] is not None else {})
        | {"call_interval_minutes": merged.get("call_interval_minutes")},
        sources=sources,
    )  # fmt: skip


def load_ruleset(name_or_path: str | Path = DEFAULT_RULESET) -> RuleSet:
    """The rule set ``name_or_path`` (a shipped id or a file); raises ValidationFailed listing
    every problem of the file."""
    data, raw = _read(name_or_path)
    data, digest = _merged(data, raw)
    problems: list[Problem] = []
    progs = {}
    for raw_p in data.get("programme", []):
        p = _programme(raw_p, data.get("defaults", {}), problems)
        if p is not None:
            progs[p.code] = p
    if problems:
        raise ValidationFailed(problems)
    return RuleSet(str(data.get("id", Path(name_or_path).stem)), int(data.get("version", 1)),
                   str(data.get("name_zh", "")), str(data.get("name_en", "")), progs, digest)  # fmt: skip


def instrument_of(
    programme: Programme,
    vintage: int,
    code: str | None = None,
    regions: tuple[str, ...] = (),
    valid_until: dt.date | None = None,
    reference_price: Decimal | None = None,
) -> Instrument:
    """An instrument of ``programme`` for ``vintage`` with the programme's grid and fees.

    Without ``valid_until``, a programme with ``validity_years`` (排污权: five years) makes the
    right valid from 1 January of the vintage year for that many years.
    """
    until = valid_until
    if until is None and programme.validity_years:
        until = dt.date(vintage + programme.validity_years - 1, 12, 31)
    return Instrument(
        code=code or f"{programme.code}-{vintage}", programme=programme, vintage=vintage,
        tick=programme.tick, lot=programme.lot, modes=programme.modes,
        fee_buy=programme.fee_buy, fee_sell=programme.fee_sell, band=programme.band,
        negotiated_band=programme.negotiated_band, settlement_days=programme.settlement_days,
        self_trade=programme.self_trade, reference_price=reference_price,
        floor_price=programme.floor_price, regions=regions,
        valid_from=dt.date(vintage, 1, 1) if programme.validity_years else None,
        valid_until=until, negotiated_approval=programme.negotiated_approval,
    )  # fmt: skip


# ------------------------------------------------------------------ stored form


def _text(v: object) -> object:
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, frozenset | set):
        return sorted(str(x) for x in v)
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def programme_to_json(p: Programme) -> dict[str, Any]:
    """A programme as JSON-ready values (Decimals as exact text)."""
    out = {f: _text(getattr(p, f)) for f in Programme.__dataclass_fields__}
    out["extra"] = {k: _text(v) for k, v in p.extra.items()}
    out["sources"] = dict(p.sources)
    return out


def programme_from_json(d: Mapping[str, Any]) -> Programme:
    """The inverse of :func:`programme_to_json`."""
    dec = {k: (Decimal(d[k]) if d.get(k) is not None else None)
           for k in ("tick", "lot", "fee_buy", "fee_sell", "band", "negotiated_band",
                     "buffer_share", "floor_price")}  # fmt: skip
    extra = dict(d.get("extra", {}))
    if extra.get("min_parcel_m2") is not None:
        extra["min_parcel_m2"] = Decimal(extra["min_parcel_m2"])
    return Programme(
        code=d["code"], kind=ProgrammeKind(d["kind"]), name_zh=d["name_zh"], name_en=d["name_en"],
        serial_prefix=d["serial_prefix"], unit=d["unit"], places=int(d["places"]),
        tick=dec["tick"], lot=dec["lot"],  # type: ignore[arg-type]
        modes=frozenset(TradingMode(m) for m in d["modes"]),
        holder_kinds=frozenset(ParticipantKind(k) for k in d["holder_kinds"]),
        buyer_kinds=frozenset(ParticipantKind(k) for k in d["buyer_kinds"]),
        fee_buy=dec["fee_buy"], fee_sell=dec["fee_sell"],  # type: ignore[arg-type]
        band=dec["band"], negotiated_band=dec["negotiated_band"],
        settlement_days=int(d["settlement_days"]), self_trade=SelfTrade(d["self_trade"]),
        validity_years=d.get("validity_years"), buffer_share=dec["buffer_share"],
        floor_price=dec["floor_price"], negotiated_approval=bool(d.get("negotiated_approval")),
        scope=d.get("scope"), extra=extra, sources=dict(d.get("sources", {})),
    )  # fmt: skip


_INSTRUMENT_STORED = ("tick", "lot", "modes", "fee_buy", "fee_sell", "band", "negotiated_band",
                      "settlement_days", "self_trade", "floor_price", "regions", "sectors",
                      "blocked_regions", "valid_from", "valid_until", "negotiated_approval")  # fmt: skip


def instrument_to_json(i: Instrument) -> dict[str, Any]:
    """An instrument's own fields (its programme, vintage, reference price and halt are columns)."""
    return {f: _text(getattr(i, f)) for f in _INSTRUMENT_STORED}


def instrument_from_json(
    code: str,
    programme: Programme,
    vintage: int,
    d: Mapping[str, Any],
    reference_price: Decimal | None = None,
    halted: bool = False,
) -> Instrument:
    """The inverse of :func:`instrument_to_json`."""

    def dec(k: str) -> Decimal | None:
        return Decimal(d[k]) if d.get(k) is not None else None

    def date(k: str) -> dt.date | None:
        return dt.date.fromisoformat(d[k]) if d.get(k) else None

    return Instrument(
        code=code, programme=programme, vintage=vintage, tick=Decimal(d["tick"]),
        lot=Decimal(d["lot"]), modes=frozenset(TradingMode(m) for m in d["modes"]),
        fee_buy=Decimal(d["fee_buy"]), fee_sell=Decimal(d["fee_sell"]), band=dec("band"),
        negotiated_band=dec("negotiated_band"), settlement_days=int(d["settlement_days"]),
        self_trade=SelfTrade(d["self_trade"]), reference_price=reference_price,
        floor_price=dec("floor_price"), regions=tuple(d.get("regions", ())),
        sectors=tuple(d.get("sectors", ())), blocked_regions=tuple(d.get("blocked_regions", ())),
        valid_from=date("valid_from"), valid_until=date("valid_until"),
        negotiated_approval=bool(d.get("negotiated_approval")), halted=halted,
    )  # fmt: skip
