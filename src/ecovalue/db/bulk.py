"""Many rows in one statement through the driver's ``executemany``, for hot write paths.

SQLAlchemy's Core ``executemany`` builds a parameter dictionary per row and runs each
column's bind processing through several layers; for the exchange's group commits (tens of
thousands of rows a second) that costs more than SQLite's own work. These helpers bind each
value with the column type's own processor (so :class:`~ecovalue.db.types.ExactDecimal` is
still exact text on SQLite and ``NUMERIC`` on PostgreSQL) and hand the driver plain tuples.
They bypass the ORM: rows written here are not seen by session listeners (the audit log),
so callers append their audit entries themselves (decision 0123).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table


def _binders(
    conn: Connection, table: Table, cols: Sequence[str]
) -> list[Callable[[Any], Any] | None]:
    return [table.c[c].type.bind_processor(conn.dialect) for c in cols]


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle in ("qmark", "numeric") else "%s"


def _values(rows: Sequence[Mapping[str, Any]], cols: Sequence[str],
            binders: Sequence[Callable[[Any], Any] | None]) -> list[tuple[Any, ...]]:  # fmt: skip
    pairs = list(zip(cols, binders, strict=True))
    return [tuple(b(r[c]) if b is not None and r[c] is not None else r[c] for c, b in pairs)
            for r in rows]  # fmt: skip


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``INSERT INTO table`` every row (all rows have the same keys, column names)."""
    if not rows:
        return
    cols = list(rows[0])
    q = conn.dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {q(table.name)} ({', '.join(q(c) for c in cols)}) "
           f"VALUES ({', '.join([_mark(conn)] * len(cols))})")  # fmt: skip
    conn.exec_driver_sql(sql, _values(rows, cols, _binders(conn, table, cols)))


def update_rows(conn: Connection, table: Table, keys: Sequence[str],
                rows: Sequence[Mapping[str, Any]]) -> None:  # fmt: skip
    """``UPDATE table SET … WHERE keys = …`` for every row (the other keys are set)."""
    if not rows:
        return
    q, m = conn.dialect.identifier_preparer.quote, _mark(conn)
    sets = [c for c in rows[0] if c not in keys]
    sql = (f"UPDATE {q(table.name)} SET {', '.join(f'{q(c)} = {m}' for c in sets)} "
           f"WHERE {' AND '.join(f'{q(k)} = {m}' for k in keys)}")  # fmt: skip
    cols = [*sets, *keys]
    conn.exec_driver_sql(sql, _values(rows, cols, _binders(conn, table, cols)))


def delete_rows(conn: Connection, table: Table, keys: Sequence[str],
                rows: Sequence[Mapping[str, Any]]) -> None:  # fmt: skip
    """``DELETE FROM table WHERE keys = …`` for every row."""
    if not rows:
        return
    q, m = conn.dialect.identifier_preparer.quote, _mark(conn)
    sql = f"DELETE FROM {q(table.name)} WHERE {' AND '.join(f'{q(k)} = {m}' for k in keys)}"
    conn.exec_driver_sql(sql, _values(rows, keys, _binders(conn, table, keys)))
