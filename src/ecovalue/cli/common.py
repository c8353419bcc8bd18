"""What every ``ecovalue`` command shares: the consoles, the progress bar of a run, and the
one way bad input is reported (every problem with where, what, expected and fix; exit
status 1; nothing written).

:class:`ErrorReportingGroup` is the root command group: whatever error a command lets
through becomes a message on one screen and an exit status, never a traceback — status 1
for bad input (an :class:`~ecovalue.errors.EcovalueError`, a file that cannot be read or
written), 70 (``EX_SOFTWARE``) for a bug, whose traceback goes to a file the message names.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column
from typer.core import TyperGroup
from typer.exceptions import TyperException

from ecovalue.errors import EcovalueError, OutputError, Problem, ValidationFailed

#: Exit status of a bug (BSD sysexits EX_SOFTWARE); bad input exits with 1, bad usage with 2.
EXIT_BUG = 70

console = Console()
err = Console(stderr=True)


def new_progress() -> Progress:
    """A progress bar on stderr: step name, bar, count, elapsed time."""
    # a column of 30 terminal cells, measured by rich: a Chinese character takes two, which a
    # str.format width (characters) did not count, so bilingual labels pushed the bar aside
    return Progress(TextColumn("[bold]{task.description}",
                               table_column=Column(width=30, no_wrap=True)), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=err,
                    transient=False)


@contextmanager
def step_progress(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """A bar driven by the engines' ``progress(step, i, total)`` callback."""
    with new_progress() as bar:
        task = bar.add_task(label, total=1)

        def progress(name: str, i: int, total: int) -> None:
            bar.update(task, description=name, completed=i, total=total)

        yield progress


MAX_PLACES = 6  # places a grouped problem lists before "…"


def grouped(problems: list[Problem]) -> list[tuple[Problem, list[str]]]:
    """Problems that differ only in where they are, once each with all their places (in order
    of first appearance): one typo repeated on 130 rows is one message."""
    groups: dict[tuple[str, str, str, str], tuple[Problem, list[str]]] = {}
    for p in problems:
        key = (p.severity, p.what, p.expected, p.fix)
        if key in groups:
            groups[key][1].append(p.where)
        else:
            groups[key] = (p, [p.where])
    return list(groups.values())


def _places(wheres: list[str]) -> str:
    if len(wheres) == 1:
        return wheres[0]
    head = "; ".join(wheres[:MAX_PLACES])
    return head + (f"; … ({len(wheres)} places in all)" if len(wheres) > MAX_PLACES else f" ({len(wheres)} places)")


def print_problems(problems: list[Problem], heading: str = "Validation problems / 数据校验问题") -> None:
    """Errors first, then warnings; one entry per distinct problem (not a table: lines stay
    whole for copying and grepping)."""
    err.print(f"[bold]{heading}[/]")
    ordered = [p for p in problems if p.severity == "error"] + [p for p in problems if p.severity != "error"]
    for p, wheres in grouped(ordered):
        style = "red" if p.severity == "error" else "yellow"
        err.print(f"[{style}]{p.severity}[/] {escape(_places(wheres))}: {escape(p.what)}.\n"
                  f"    expected: {escape(p.expected)}\n    fix: {escape(p.fix)}",
                  soft_wrap=True, markup=True, highlight=False)


def print_warnings(warnings: list[Problem], when: str) -> None:
    """The warnings of a run, in a block the eye cannot miss (before the results)."""
    if not warnings:
        return
    n = len(grouped(warnings))
    print_problems(warnings, heading=f"⚠ {n} warning(s) {when} — check them before using the numbers / "
                                     "请先核查以下警告")


def report_error(exc: BaseException) -> NoReturn:
    """Print ``exc`` as the user's message and exit: 1 for bad input, 70 for a bug."""
    if isinstance(exc, ValidationFailed):
        print_problems(exc.problems)
        n = sum(p.severity == "error" for p in exc.problems)
        err.print(f"[red]{n} error(s); nothing was written.[/] Fix them and run again.")
        raise typer.Exit(1)
    if isinstance(exc, EcovalueError):
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        err.print("[red]Nothing was written.[/]")
        raise typer.Exit(1)
    if isinstance(exc, OSError):
        name = exc.filename if exc.filename is not None else ""
        err.print(f"[red]error:[/] {escape(str(name))}: {escape(exc.strerror or str(exc))}; check that the path "
                  "exists and that you may read (inputs) or write (--out) it", soft_wrap=True, highlight=False)
        raise typer.Exit(1)
    path = _save_traceback(exc)
    err.print(f"[red]internal error (a bug in ecovalue):[/] {escape(type(exc).__name__)}: {escape(str(exc))}\n"
              f"The traceback was written to {escape(str(path))}; please attach it to a bug report "
              "(set ECOVALUE_DEBUG=1 to see it here).", soft_wrap=True, highlight=False)
    raise typer.Exit(EXIT_BUG)


def _save_traceback(exc: BaseException) -> Path:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    path = Path(tempfile.gettempdir()) / f"ecovalue-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    try:
        path.write_text(text, encoding="utf-8")
    except OSError:
        err.print(escape(text), highlight=False)
    return path


class ErrorReportingGroup(TyperGroup):
    """The root group of ``ecovalue``: every error of a command is reported by
    :func:`report_error` (``ECOVALUE_DEBUG=1`` lets bugs through with their traceback)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException, KeyboardInterrupt):
            raise  # exits, usage errors (typer's own click) and Ctrl-C keep their meaning
        except Exception as exc:
            if not isinstance(exc, EcovalueError | OSError) and os.environ.get("ECOVALUE_DEBUG"):
                raise
            report_error(exc)


@contextmanager
def input_errors() -> Iterator[None]:
    """Turn the engines' input errors into the problem list or one message, and exit 1."""
    try:
        yield
    except (EcovalueError, OSError) as exc:
        report_error(exc)


def check_out_folder(out: Path) -> None:
    """``--out`` must be a folder this process can create and write: checked before any work,
    creating nothing (the probe is an unnamed temporary file in the nearest existing folder).

    Raises:
        OutputError: it is a file, or its folder cannot be written (read-only, no permission).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder; expected a folder for the run's outputs; "
                          "fix: pass a new or existing folder, e.g. --out runs/2023")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"--out {out}: {probe} is a file, so no folder can be made below it; "
                          "fix: choose another path for --out")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write in {probe} ({exc.strerror or exc}); expected a folder "
                          "you may write; fix: choose a writable folder (e.g. --out ~/ecovalue-runs/run1) or "
                          "change its permissions") from None
