"""``ecovalue ledger``: verify the journal, and the administrators' registry commands.

``verify`` recomputes the journal's hash chain and every derived table and replays every
order book from its record; it names each break and exits 1 when it finds one. The other
commands run the unit registry as its administrator: adopt a rule set, open instruments,
register participants, record deposits, issue, set quotas and allocate (排污权, 水权), issue
forestry carbon-sink credits from the accounts, settle T+1 trades, measure indicators.
Each command is one unit of work, recorded in the audit log as ``cli:<login name>``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ecovalue.cli.platform import DbOption, _fail, _session, console
from ecovalue.errors import EcovalueError, InputError, ValidationFailed
from ecovalue.platform.auth.rules import SYSTEM

app = typer.Typer(help="The journal and the eco-rights unit registry (administrators).",
                  no_args_is_help=True)  # fmt: skip


def register(main: typer.Typer) -> None:
    """Mount ``ecovalue ledger …`` on the main command."""
    main.add_typer(app, name="ledger")


def _dec(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InputError(f"{what} '{text}' is not a number; give e.g. 100 or 12.50") from None
    if not value.is_finite():
        raise InputError(f"{what} '{text}' is not a finite number")
    return value


def _run(job, database_url: str | None):  # type: ignore[no-untyped-def]
    try:
        with _session(database_url) as s:
            return job(s)
    except EcovalueError as exc:
        _fail(exc)


@app.command("verify")
def verify(database_url: DbOption = None) -> None:
    """Recompute the hash chain, balances, lots and snapshots, and replay every order book."""
    from ecovalue.platform.exchange.verify import verify_books
    from ecovalue.platform.ledger.verify import verify_journal

    def job(s):  # type: ignore[no-untyped-def]
        report = verify_journal(s)
        return report, verify_books(s)

    report, books = _run(job, database_url)
    problems = [*report.problems, *books]
    if problems:
        _fail(ValidationFailed(problems))
    console.print(f"[green]journal intact[/]: {report.transactions} transactions, head "
                  f"{report.head_seq} {report.head_hash[:16]}…; every book replays to its state")  # fmt: skip


@app.command("rebuild")
def rebuild(database_url: DbOption = None) -> None:
    """Rewrite the derived tables (postings index, balances, lots) from the journal's bodies."""
    from ecovalue.platform.ledger.verify import rebuild_derived

    report = _run(rebuild_derived, database_url)
    console.print(f"derived tables rebuilt from {report.transactions} transactions; "
                  f"{'intact' if report.intact else 'problems remain'}")  # fmt: skip


@app.command("snapshot")
def snapshot(database_url: DbOption = None) -> None:
    """Record every balance as of the journal's head (balances at any time start from one)."""
    from ecovalue.platform.ledger.service import take_snapshot

    console.print(f"snapshot at transaction {_run(take_snapshot, database_url)}")


@app.command("init")
def init(ruleset: Annotated[str, typer.Option(help="rule set id or .toml file")] = "cn-hubei-2026",
         database_url: DbOption = None) -> None:  # fmt: skip
    """Adopt the programmes of a rule set (and open the exchange's accounts)."""
    from ecovalue.platform.exchange import service as X

    codes = _run(lambda s: X.adopt_ruleset(s, SYSTEM, ruleset), database_url)
    console.print(f"programmes: {', '.join(codes)}")


@app.command("instrument")
def instrument(
    programme: str,
    vintage: int,
    code: Annotated[str | None, typer.Option(help="default PROGRAMME-VINTAGE")] = None,
    region: Annotated[
        list[str] | None, typer.Option(help="administrative code prefix allowed")
    ] = None,
    reference_price: Annotated[str | None, typer.Option(help="元; the price band's centre")] = None,
    database_url: DbOption = None,
) -> None:
    """Open an instrument of a programme for a vintage."""
    from ecovalue.platform.exchange import service as X

    ref = _dec(reference_price, "reference price") if reference_price else None
    i = _run(lambda s: X.create_instrument(s, SYSTEM, programme, vintage, code, region or [], ref),
             database_url)  # fmt: skip
    console.print(f"instrument [bold]{i.code}[/]: tick {i.tick} 元, lot {i.lot} {i.unit}, "
                  f"valid until {i.valid_until or 'no end'}")  # fmt: skip


@app.command("participant")
def participant(
    code: str,
    name: str,
    kind: Annotated[
        str, typer.Option(help="enterprise, individual, institution, district, government")
    ],
    region: Annotated[str, typer.Option(help="administrative code, e.g. 420102")],
    member: Annotated[list[str] | None, typer.Option(help="platform user who acts for it")] = None,
    sector: Annotated[str | None, typer.Option()] = None,
    basin: Annotated[str | None, typer.Option()] = None,
    database_url: DbOption = None,
) -> None:
    """Register a participant (and the users who act for it)."""
    from ecovalue.platform.exchange import service as X

    def job(s):  # type: ignore[no-untyped-def]
        X.register_participant(s, SYSTEM, code, name, kind, region, basin, sector)
        for user in member or []:
            X.add_member(s, SYSTEM, code, user)

    _run(job, database_url)
    console.print(f"participant [bold]{code}[/] registered")


@app.command("deposit")
def deposit(participant: str, amount: str,
            reference: Annotated[str, typer.Option(help="the bank's transfer number")],
            database_url: DbOption = None) -> None:  # fmt: skip
    """Record money paid in through the settlement bank."""
    from ecovalue.platform.exchange import service as X

    posted = _run(lambda s: X.deposit(s, SYSTEM, participant, _dec(amount, "amount"), reference),
                  database_url)  # fmt: skip
    console.print(f"deposit recorded: journal transaction {posted.seq}")


@app.command("issue")
def issue(instrument: str, participant: str, quantity: str, database_url: DbOption = None) -> None:
    """Issue new serial-numbered units to a participant."""
    from ecovalue.platform.exchange import service as X

    v = _run(lambda s: X.issue(s, SYSTEM, instrument, participant, _dec(quantity, "quantity")),
             database_url)  # fmt: skip
    console.print(f"issued {v.quantity} as block {v.serial} (journal {v.ledger_seq})")


@app.command("quota")
def quota(instrument: str, district: str, quantity: str,
          source: Annotated[str, typer.Option(help="the 总量控制 document")],
          database_url: DbOption = None) -> None:  # fmt: skip
    """Set a district's allocation quota of an instrument."""
    from ecovalue.platform.exchange import service as X

    _run(lambda s: X.set_quota(s, SYSTEM, instrument, district, _dec(quantity, "quantity"), source),
         database_url)  # fmt: skip
    console.print(f"quota of {district}: {quantity}")


@app.command("allocate")
def allocate(
    instrument: str,
    participant: str,
    quantity: str,
    district: Annotated[str, typer.Option(help="whose quota it comes from")],
    price: Annotated[
        str | None, typer.Option(help="paid-use price per unit (有偿使用); none: free")
    ] = None,
    payee: Annotated[str | None, typer.Option(help="the authority receiving the price")] = None,
    basis: Annotated[str, typer.Option(help="the allocation decision")] = "",
    database_url: DbOption = None,
) -> None:
    """Allocate units (排污权, 水权) within a district's quota, free or at a paid-use price."""
    from ecovalue.platform.exchange import service as X

    p = _dec(price, "price") if price else None
    v = _run(lambda s: X.allocate(s, SYSTEM, instrument, participant, _dec(quantity, "quantity"),
                                  district, p, payee, basis), database_url)  # fmt: skip
    console.print(f"allocated {v.quantity} as block {v.serial}"
                  f"{f' for {v.amount} 元' if v.amount else ' (free)'}")  # fmt: skip


@app.command("sink-project")
def sink_project(code: str, participant: Annotated[str, typer.Option()],
                 register_code: Annotated[str, typer.Option("--register")],
                 parcel: Annotated[str, typer.Option()], start: Annotated[int, typer.Option()],
                 end: Annotated[int, typer.Option()], database_url: DbOption = None) -> None:  # fmt: skip
    """Register a forestry carbon-sink project on a registered parcel."""
    from ecovalue.platform.exchange import sinks

    p = _run(lambda s: sinks.register_project(s, SYSTEM, code, participant, register_code,
                                              parcel, start, end), database_url)  # fmt: skip
    console.print(f"project [bold]{p.code}[/] on parcel {p.parcel_code} ({p.parcel_area_m2} m²), "
                  f"{p.start_year}–{p.end_year}")  # fmt: skip


@app.command("issue-sink")
def issue_sink(
    project: str,
    instrument: str,
    dataset: Annotated[list[str], typer.Option(help="YEAR=PATH of each monitored year's dataset")],
    baseline: Annotated[Path, typer.Option(help="scenario file: the parcel without the project")],
    profile: Annotated[str, typer.Option()] = "cn-2022",
    database_url: DbOption = None,
) -> None:
    """Issue a sink project's credits from plot-level accounting minus its baseline scenario."""
    from ecovalue.platform.exchange import sinks

    try:
        paths = {int(y): p for y, _, p in (d.partition("=") for d in dataset)}
    except ValueError:
        _fail(InputError(f"--dataset {dataset}: give YEAR=PATH, e.g. 2024=data/wuhan-2024"))
    geom, crs = _run(lambda s: sinks.parcel_geometry(s, SYSTEM, project), database_url)
    with console.status("accounting the parcel with and without the project…"):
        try:
            evidence = sinks.sink_evidence(paths, geom, crs, baseline, profile)
        except EcovalueError as exc:
            _fail(exc)
    table = Table(title=f"{project}: sequestration (t CO₂)")
    for col in ("year", "project", "baseline", "additional"):
        table.add_column(col, justify="right")
    for y in evidence:
        table.add_row(str(y.year), f"{y.project_t:.3f}", f"{y.baseline_t:.3f}",
                      f"{y.project_t - y.baseline_t:.3f}")  # fmt: skip
    console.print(table)
    v = _run(lambda s: sinks.issue_sink(s, SYSTEM, project, instrument, evidence), database_url)
    console.print(f"issued {v.quantity} t (buffer {v.buffer_quantity} t) as block {v.serial}")


@app.command("settle")
def settle(on: Annotated[str | None, typer.Option(help="date (default today)")] = None,
           database_url: DbOption = None) -> None:  # fmt: skip
    """Deliver every T+1 trade due on or before the date."""
    from ecovalue.platform.exchange import trading

    day = dt.date.fromisoformat(on) if on else dt.date.today()
    done = _run(lambda s: trading.settle_due(s, SYSTEM, day), database_url)
    console.print(f"settled {len(done)} trade(s)")


@app.command("balances")
def balances(participant: str, database_url: DbOption = None) -> None:
    """A participant's balances by account."""
    from ecovalue.platform.exchange import service as X

    rows = _run(lambda s: X.balances_of(s, SYSTEM, participant), database_url)
    table = Table(title=f"balances of {participant}")
    for col in ("account", "commodity", "amount"):
        table.add_column(col, justify="right" if col == "amount" else "left")
    for acc, by in rows.items():
        for com, amount in by.items():
            table.add_row(acc, com, f"{amount:,}")
    console.print(table)


@app.command("measure")
def measure(indicator: str, district: str, year: int, database_url: DbOption = None) -> None:
    """Measure a district's indicator (forest_coverage, green_space, water_quality)."""
    from ecovalue.platform.exchange import indicators

    m = _run(lambda s: indicators.measure(s, SYSTEM, indicator, district, year), database_url)
    console.print(f"{indicator} of {district} in {year}: {m.measured} (basis {m.basis})")


@app.command("target")
def target(indicator: str, district: str, year: int, value: str,
           source: Annotated[str, typer.Option(help="the 尽责目标 document")],
           database_url: DbOption = None) -> None:  # fmt: skip
    """Set a district's target (forest coverage: a rate such as 0.55)."""
    from ecovalue.platform.exchange import indicators

    _run(lambda s: indicators.set_target(s, SYSTEM, indicator, district, year,
                                         _dec(value, "target"), source), database_url)  # fmt: skip
    console.print(f"target of {district} {year}: {value}")
