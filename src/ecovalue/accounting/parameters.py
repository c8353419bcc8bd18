"""The parameter register: every coefficient and unit price with its provenance.

A :class:`Parameter` carries value, unit (pint), price year, region and source. The
register is built from a profile (``profiles.py``) plus a dataset's local prices; the
code holds no silent defaults: a parameter that is not in the register raises
:class:`~ecovalue.errors.ParameterError` naming where to add it.

Status values: ``published`` (a number from a cited source), ``assumed`` (no source was
found: "assumed — set your own"), ``dataset`` (supplied by the dataset's own tables).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from ecovalue.datasets.plausibility import PARAMETERS, slip_hint
from ecovalue.errors import ParameterError, Problem, UnitError
from ecovalue.units import conversion_factor, format_unit, parse_unit

STATUSES = ("published", "assumed", "dataset")


@dataclass(frozen=True)
class Parameter:
    """One coefficient or unit price with its provenance."""

    id: str
    value: Decimal
    unit: str
    source: str
    status: str
    price_year: int | None = None
    region: str = ""
    name_zh: str = ""
    name_en: str = ""
    note: str = ""

    @property
    def is_price(self) -> bool:
        return "[currency]" in str(parse_unit(self.unit, self.id).dimensionality)


def make_parameter(pid: str, raw: Mapping[str, object], where: str) -> Parameter:
    """Build a Parameter from a profile/table entry, checking every field; raise ParameterError."""
    problems = []
    if "value" not in raw:
        problems.append("no 'value'")
    if not raw.get("unit"):
        problems.append("no 'unit' (write '1' for a dimensionless number)")
    if not raw.get("source"):
        problems.append("no 'source' (cite one, or write 'assumed — set your own')")
    if problems:
        raise ParameterError(f"{where}: parameter '{pid}' has " + "; ".join(problems))
    try:
        value = Decimal(str(raw["value"]).strip())
    except InvalidOperation as exc:
        raise ParameterError(f"{where}: parameter '{pid}' value {raw['value']!r} is not a number") from exc
    if not value.is_finite():
        raise ParameterError(f"{where}: parameter '{pid}' value {raw['value']!r} is not a finite number")
    unit = str(raw["unit"])
    parse_unit(unit, f"{where}: parameter '{pid}'")
    status = str(raw.get("status", "published"))
    if status not in STATUSES:
        raise ParameterError(f"{where}: parameter '{pid}' status '{status}' is not one of {STATUSES}")
    py = raw.get("price_year")
    return Parameter(
        id=pid, value=value, unit=unit, source=str(raw["source"]), status=status,
        price_year=int(str(py)) if py not in (None, "") else None,
        region=str(raw.get("region", "")), name_zh=str(raw.get("name_zh", "")),
        name_en=str(raw.get("name_en", "")), note=str(raw.get("note", "")),
    )


def check_parameter(p: Parameter, where: str) -> list[Problem]:
    """A parameter against the unit the engine reads it in and its physical and plausible
    range (``datasets.plausibility.PARAMETERS``): a unit of another dimension or a value beyond
    the physical limits is an error, a value outside the plausible range a warning."""
    spec = PARAMETERS.get(p.id)
    if spec is None:
        return []
    try:
        factor = conversion_factor(p.unit, spec.unit, f"parameter '{p.id}'")
    except UnitError:
        unit = format_unit(spec.unit)
        return [Problem(where, f"unit '{p.unit}' cannot be converted to {unit}, the unit the engine reads "
                        f"'{p.id}' ({spec.quantity}) in", f"a unit convertible to {unit}",
                        f"write the value in {unit} (or a convertible unit) and set unit = \"{unit}\"")]
    v = float(p.value) * factor
    if (spec.floor is not None and v < spec.floor) or (spec.ceiling is not None and v > spec.ceiling):
        lim = f"[{spec.floor if spec.floor is not None else '−∞'}, {spec.ceiling if spec.ceiling is not None else '∞'}]"
        return [Problem(where, f"value {p.value} {p.unit} (= {v:g} {format_unit(spec.unit)}) is outside the physical limits "
                        f"{lim} {format_unit(spec.unit)} of {spec.quantity}",
                        f"{spec.quantity} within {lim} {format_unit(spec.unit)}",
                        "correct the value or its unit")]
    if (spec.lo is not None and v < spec.lo) or (spec.hi is not None and v > spec.hi):
        hint = slip_hint((v, v), spec)
        return [Problem(where, f"value {p.value} {p.unit} (= {v:g} {format_unit(spec.unit)}) is outside the plausible range "
                        f"{spec.range_text()} of {spec.quantity}",
                        f"{spec.range_text()} ({spec.source})",
                        "check the number and its unit" + (f": {hint}" if hint else "")
                        + "; if it is right, keep it (this is a warning)", severity="warning")]
    return []


class ParameterRegister(Mapping[str, Parameter]):
    """An immutable mapping of parameter id → :class:`Parameter`."""

    def __init__(self, params: Mapping[str, Parameter], origin: str = "profile"):
        self._params = dict(params)
        self._origin = origin

    def __getitem__(self, pid: str) -> Parameter:
        try:
            return self._params[pid]
        except KeyError:
            raise ParameterError(
                f"parameter '{pid}' is not in the register ({self._origin}); add it to your profile "
                f"under [parameters.\"{pid}\"] with value, unit, price_year, region and source"
            ) from None

    def __contains__(self, pid: object) -> bool:
        return pid in self._params

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def get_float(self, pid: str, unit: str | None = None) -> float:
        """The value as a float, converted to ``unit`` (default: the unit the engine reads the
        parameter in, ``datasets.plausibility.PARAMETERS``: a coefficient given in % is read
        as a fraction); UnitError if incompatible."""
        p = self[pid]
        v = float(p.value)
        if unit is None and pid in PARAMETERS:
            unit = PARAMETERS[pid].unit
        if unit is not None and unit != p.unit:
            v *= conversion_factor(p.unit, unit, f"parameter '{pid}'")
        return v

    def with_overrides(self, extra: Mapping[str, Parameter]) -> ParameterRegister:
        """A new register where ``extra`` adds to or replaces entries."""
        merged = dict(self._params)
        merged.update(extra)
        return ParameterRegister(merged, self._origin)

    def adjusted_to_year(self, year: int, index: Mapping[int, float]) -> tuple[ParameterRegister, list[str]]:
        """Prices restated at ``year`` prices with a price index: P_year = P × I[year]/I[price_year].

        Returns the new register and notes for prices whose price year the index does not cover
        (those stay unadjusted and the note says so).
        """
        notes: list[str] = []
        out: dict[str, Parameter] = {}
        for pid, p in self._params.items():
            if not p.is_price or p.price_year is None or p.price_year == year:
                out[pid] = p
                continue
            if year not in index or p.price_year not in index:
                notes.append(
                    f"price '{pid}' ({p.value} {p.unit}, price year {p.price_year}) was not restated to "
                    f"{year} prices: the price index has no value for "
                    f"{p.price_year if p.price_year not in index else year}"
                )
                out[pid] = p
                continue
            factor = Decimal(repr(index[year])) / Decimal(repr(index[p.price_year]))
            out[pid] = replace(
                p, value=(p.value * factor).quantize(Decimal("0.000001")), price_year=year,
                note=(p.note + " " if p.note else "") + f"restated from {p.price_year} prices (×{factor:.4f})",
            )
        return ParameterRegister(out, self._origin), notes
