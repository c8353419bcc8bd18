"""What every ``ecovalue`` command shares: the consoles, the progress bar of a run, and the
one way bad input is reported (every problem with where, what, expected and fix; exit
status 1; nothing written)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column

from ecovalue.errors import EcovalueError, Problem, ValidationFailed

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


def print_problems(problems: list[Problem]) -> None:
    """One line per problem (not a table: lines stay whole for copying and grepping)."""
    err.print("[bold]Validation problems / 数据校验问题[/]")
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        err.print(f"[{style}]{p.severity}[/] {escape(p.where)}: {escape(p.what)}.\n"
                  f"    expected: {escape(p.expected)}\n    fix: {escape(p.fix)}",
                  soft_wrap=True, markup=True, highlight=False)


@contextmanager
def input_errors() -> Iterator[None]:
    """Turn the engines' input errors into the problem list or one message, and exit 1."""
    try:
        yield
    except ValidationFailed as exc:
        print_problems(exc.problems)
        err.print("[red]The dataset has errors; nothing was written.[/] Fix them and run again.")
        raise typer.Exit(1) from None
    except EcovalueError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None
