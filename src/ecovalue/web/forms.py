"""Reading submitted forms: typed values from text fields, with the same problem records
(where, what, expected, fix) the services raise, so a page shows both the same way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from ecovalue.errors import Problem
from ecovalue.platform.responses import validation_problems

MAX_FIELD = 500


class FormReader:
    """Fields of one submitted form; collects a problem per unreadable field."""

    def __init__(self, data: Mapping[str, Any]):
        self.data = data
        self.problems: list[Problem] = []

    def text(self, name: str, required: bool = True, max_length: int = 200) -> str | None:
        value = str(self.data.get(name) or "").strip()
        if not value:
            if required:
                self.problems.append(Problem(name, "is empty", "a value", f"fill in {name}"))
            return None
        if len(value) > max_length:
            self.problems.append(Problem(name, f"has {len(value)} characters",
                                         f"at most {max_length}", "shorten it"))
            return None
        return value

    def date(self, name: str, required: bool = True) -> dt.date | None:
        value = self.text(name, required, 10)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.problems.append(Problem(name, f"'{value}' is not a date", "YYYY-MM-DD",
                                         "pick the date in the calendar"))
            return None

    def decimal(self, name: str, required: bool = True) -> Decimal | None:
        value = self.text(name, required, 40)
        if value is None:
            return None
        try:
            number = Decimal(value.replace(",", ""))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            self.problems.append(Problem(name, f"'{value}' is not a number", "digits, e.g. 0.5",
                                         "write the number with a decimal point"))
            return None
        return number

    def integer(self, name: str, required: bool = True) -> int | None:
        value = self.text(name, required, 20)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            self.problems.append(Problem(name, f"'{value}' is not a whole number", "e.g. 2023",
                                         "write digits only"))
            return None

    def flag(self, name: str) -> bool:
        return str(self.data.get(name) or "").lower() in ("1", "on", "true", "yes")


def problem_dicts(problems: list[Problem]) -> list[dict[str, str]]:
    return [p.__dict__ for p in problems]


def pydantic_problems(exc: ValidationError) -> list[Problem]:
    """A model's validation errors as the problems a form shows next to its fields."""
    return [Problem(p["where"], p["what"], p["expected"], p["fix"])
            for p in validation_problems(exc.errors())]
