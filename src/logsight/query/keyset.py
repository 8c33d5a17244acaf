"""Keyset pages: a list ordered by a unique key continues strictly after the last key it showed.

Every list of the API pages this way, so a page boundary never moves when rows are added in
front of it, and each page is one index range scan. A query fetches one row more than the page
to learn whether another page follows; the key of the page's last row is where it continues.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

type Row = dict[str, Any]
type Key = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Order:
    """The sort key of a list: SQL ``columns`` whose values each row carries under ``keys``."""

    columns: tuple[str, ...]
    keys: tuple[str, ...]
    descending: bool = False

    def after(self, key: Key) -> sql.Composable:
        """The condition for the rows that come after ``key``."""
        return sql.SQL("({}) {} ({})").format(
            sql.SQL(", ").join(sql.SQL(column) for column in self.columns),
            sql.SQL("<" if self.descending else ">"),
            sql.SQL(", ").join(sql.Literal(value) for value in key),
        )

    def order_by(self) -> sql.Composable:
        direction = " DESC" if self.descending else ""
        return sql.SQL(", ").join(sql.SQL(column + direction) for column in self.columns)

    def key(self, row: Row) -> Key:
        return tuple(row[name] for name in self.keys)


def page[R](rows: Sequence[R], limit: int, key: Callable[[R], Key]) -> tuple[list[R], Key | None]:
    """``rows`` (up to limit + 1 of them): the page, and the key to continue after (None at the
    end)."""
    shown = list(rows[:limit])
    return shown, key(shown[-1]) if len(rows) > limit else None


def fetch(
    conn: psycopg.Connection,
    select: str | sql.Composable,
    order: Order,
    *,
    limit: int,
    after: Key | None,
    params: dict[str, Any] | None = None,
) -> tuple[list[Row], Key | None]:
    """One page of ``select`` (a SELECT ending with its WHERE clause) in ``order``.

    The key and the limit are written into the statement as literals, so ``select`` may be a
    composed statement with literals of its own (``params`` then None) or a text with
    ``%(name)s`` placeholders for ``params``.
    """
    statement = sql.SQL("{select}{after} ORDER BY {order} LIMIT {limit}").format(
        select=sql.SQL(select) if isinstance(select, str) else select,
        after=sql.SQL(" AND {}").format(order.after(after)) if after is not None else sql.SQL(""),
        order=order.order_by(),
        limit=sql.Literal(limit + 1),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(statement, params).fetchall()
    return page(rows, limit, order.key)
