"""The error hierarchy of ecovalue.

Every error the package raises on purpose derives from :class:`EcovalueError`. Subclasses
also inherit the matching built-in (``ValueError``, ``OSError``, ``KeyError``) so callers
that catch built-ins keep working (the rasterio pattern).

Validation does not stop at the first problem: it collects :class:`Problem` records and
raises :class:`ValidationFailed` carrying all of them.
"""

from __future__ import annotations

from dataclasses import dataclass


class EcovalueError(Exception):
    """Root of all ecovalue errors."""


class InputError(EcovalueError, ValueError):
    """An input value, file content or parameter is wrong."""


class DataFileError(EcovalueError, OSError):
    """A file is missing, unreadable or of the wrong kind."""


class OutputError(EcovalueError, OSError):
    """An output folder cannot be created or written."""


class UnitError(InputError):
    """A unit is missing, unknown or incompatible with what was expected."""


class ParameterError(InputError):
    """A parameter is missing from the register or has a wrong value."""


class ProfileError(InputError):
    """A parameter profile file is malformed or refers to something unknown."""


class NotApplicable(EcovalueError):
    """An indicator cannot be computed for this dataset (e.g. no wind data for RWEQ).

    The pipeline records the reason in the run output instead of writing zeros.
    """


class EngineError(EcovalueError, RuntimeError):
    """An accounting engine broke one of its own invariants (e.g. an indicator of the profile
    was neither computed nor named not applicable): a defect of the software, not of the input;
    the run stops instead of publishing an incomplete number."""


@dataclass(frozen=True)
class Problem:
    """One validation problem: where it is, what is wrong, what was expected, how to fix it."""

    where: str
    what: str
    expected: str
    fix: str
    severity: str = "error"  # "error" stops a run; "warning" is reported only

    def __str__(self) -> str:
        return (
            f"[{self.severity}] {self.where}: {self.what}. "
            f"Expected: {self.expected}. Fix: {self.fix}"
        )


class ValidationFailed(InputError):
    """Validation found one or more errors; ``problems`` holds every one of them."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(errors)} error(s) found:\n{lines}")
