"""Statements compiled once per database and run on the connection's own driver cursor.

Creating an order runs about eight short statements; SQLAlchemy's per-execution bookkeeping (cache lookup,
execution context, result object) cost several times what SQLite spends on each. Here the SQL, the order of
the parameters and every value's conversion (`UtcDateTime`, JSON, booleans) still come from SQLAlchemy's
compiler and column types, worked out once per dialect; only the execution goes straight to the driver, on
the same connection and in the same transaction; rows come back through the columns' result processors as
named tuples. The columns' types must not depend on what the driver reports (true of the integers, strings
and `UtcDateTime`s used here).
"""

from __future__ import annotations

import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters in the statement's order (positional) or once each (named)
    positional: bool
    convert: tuple[tuple[str, Callable[[Any], Any]], ...]  # (parameter, SQLAlchemy's bind processor)
    defaults: dict[str, Any]  # parameters whose value is part of the statement
    row: Callable[..., Any] | None  # named tuple of the result columns
    results: tuple[Callable[[Any], Any] | None, ...]  # per result column, SQLAlchemy's result processor


class Prepared:
    """A Core statement for the hot path. An INSERT writes the columns named by the keys of the rows passed
    (the first row's, as SQLAlchemy's executemany does)."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._inserts = bool(getattr(statement, "is_insert", False))
        self._by_dialect: weakref.WeakKeyDictionary[Dialect, dict[tuple[str, ...], _Compiled]] = (
            weakref.WeakKeyDictionary())

    def _compiled(self, dialect: Dialect, row: Mapping[str, Any]) -> _Compiled:
        by_columns = self._by_dialect.get(dialect)
        if by_columns is None:
            by_columns = self._by_dialect[dialect] = {}
        columns = tuple(row) if self._inserts else ()
        compiled = by_columns.get(columns)
        if compiled is None:
            compiled = by_columns[columns] = self._compile(dialect, list(columns) if self._inserts else None)
        return compiled

    def _compile(self, dialect: Dialect, columns: list[str] | None) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect, column_keys=columns)
        if compiled.escaped_bind_names or compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError(f"statement needs per-execution rendering, run it with Connection.execute: {compiled}")
        convert: dict[str, Callable[[Any], Any]] = {}
        defaults: dict[str, Any] = {}
        for bind, name in compiled.bind_names.items():  # a name used twice is one parameter, converted once
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                convert[name] = processor
            if not bind.required:  # a value written into the statement, e.g. a LIMIT
                defaults[name] = bind.effective_value
        names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(dict.fromkeys(
            compiled.bind_names.values()))
        returned = list(getattr(compiled, "returning", None) or getattr(self.statement, "selected_columns", ()))
        row = namedtuple("Row", [c.key for c in returned], rename=True) if returned else None  # type: ignore[misc]
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned)
        return _Compiled(compiled.string, names, compiled.positional, tuple(convert.items()), defaults, row,
                         results if any(results) else ())

    def _parameters(self, compiled: _Compiled, values: Mapping[str, Any]) -> Any:
        if compiled.convert or compiled.defaults:
            values = {**compiled.defaults, **values}
            for name, processor in compiled.convert:
                values[name] = processor(values[name])
        if compiled.positional:
            return tuple(values[name] for name in compiled.names)
        return {name: values[name] for name in compiled.names}

    def _run(self, conn: Connection, rows: Sequence[Mapping[str, Any]], many: bool) -> tuple[_Compiled, Any]:
        compiled = self._compiled(conn.dialect, rows[0])
        params = [self._parameters(compiled, row) for row in rows]
        driver = conn.connection.dbapi_connection
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cursor.executemany(compiled.sql, params)
            else:
                cursor.execute(compiled.sql, params[0])
            return compiled, cursor
        except conn.dialect.loaded_dbapi.Error as exc:
            # as Connection.execute would: SQLAlchemy's exception classes, and a dead connection is dropped
            # from the pool rather than handed out again
            lost = conn.dialect.is_disconnect(exc, driver, cursor)
            with suppress(conn.dialect.loaded_dbapi.Error):
                cursor.close()
            error = DBAPIError.instance(compiled.sql, params, exc, conn.dialect.loaded_dbapi.Error,
                                        connection_invalidated=lost, dialect=conn.dialect)
            if lost:
                conn.invalidate(exc)
            raise error from exc

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """One statement per row (the driver's executemany, its plain execute for one row); nothing returned."""
        if rows:
            self._run(conn, rows, many=len(rows) > 1)[1].close()

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Every row returned, as named tuples of converted values."""
        compiled, cursor = self._run(conn, [params], many=False)
        try:
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        assert compiled.row is not None, "the statement returns no rows"
        if compiled.results:
            fetched = [[value if convert is None else convert(value) for convert, value in
                        zip(compiled.results, raw, strict=True)] for raw in fetched]
        return [compiled.row(*values) for values in fetched]

    def scalars(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """The first column of every row returned."""
        return [row[0] for row in self.rows(conn, params)]

    def scalar_one(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        values = self.scalars(conn, params)
        if len(values) != 1:
            raise LookupError(f"expected one row, got {len(values)}: {self.statement}")
        return values[0]

