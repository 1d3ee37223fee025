"""Statements compiled once per database dialect, run without SQLAlchemy's per-execution work.

A chat send runs five small statements inside the write turn that every worker queues for, and one
read before any photo work. Through Connection.execute each is looked up in SQLAlchemy's statement
cache and its parameters and rows go through a new execution context; here the SQL and the type
conversions are made once, and only values go to the driver and come back. The statements are still
SQLAlchemy Core statements compiled by the connection's own dialect: the SQL, the parameter style and
each type's conversion (a datetime to and from SQLite's text form) are the dialect's.

Writes run through Connection.exec_driver_sql, in the caller's transaction, keeping the engine's
events and errors. A chat send's writes, connection, write turn and commit included (sequential,
SQLite, seven runs each): 235-248 µs against 288-296 through Connection.execute of statements built
once. The read runs on a pooled driver connection of its own, outside any session: a one-row read of
the conversation a message goes to, on SQLite on the event loop, 40-46 µs against 93-101 through a
session (sequential; 0.38 ms of the loop's CPU under load).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import Any

from sqlalchemy import Table
from sqlalchemy import insert as sa_insert
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql.expression import Executable, Select


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    # per parameter of the SQL, in its order: its name, whether the row gives it (else the statement's
    # own value, in constants), and the dialect's conversion of its type
    names: tuple[str, ...]
    from_row: tuple[bool, ...]
    constants: tuple[Any, ...]
    converters: tuple[Callable[[Any], Any] | None, ...]

    @cached_property
    def _take(self) -> Callable[[dict], tuple]:
        """The row's values in the SQL's order, taken in one C call (operator.itemgetter); constants
        and conversions are then applied where there are any. A chat send's parameters took 1.5k
        Python bytecodes with a loop step per column, 0.9k so (backend.deps.BrowserSend says how
        they were counted)."""
        taken = [name for name, from_row in zip(self.names, self.from_row, strict=True) if from_row]
        if not taken:
            return lambda row: ()
        getter = itemgetter(*taken)
        return (lambda row: (getter(row),)) if len(taken) == 1 else getter

    @cached_property
    def _fixes(self) -> tuple[tuple[int, bool, Any, Callable[[Any], Any] | None], ...]:
        """(position, from the row, constant, conversion) for every parameter that is not a row's
        value passed as it is."""
        return tuple((i, from_row, constant, convert) for i, (from_row, constant, convert) in enumerate(
            zip(self.from_row, self.constants, self.converters, strict=True)) if not from_row or convert is not None)

    def parameters(self, row: dict) -> tuple | dict:
        """The driver's parameters for one row, in the SQL's style (positional or named)."""
        taken = self._take(row)
        if len(taken) == len(self.names):
            values = list(taken)
        else:  # the statement's own values in between
            given = iter(taken)
            values = [next(given) if from_row else None for from_row in self.from_row]
        for i, from_row, constant, convert in self._fixes:
            value = values[i] if from_row else constant
            values[i] = convert(value) if convert is not None and value is not None else value
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


def _compile(statement: Executable, keys: tuple[str, ...], dialect: Dialect, **kw) -> _Compiled:
    compiled = statement.compile(dialect=dialect, **kw)
    names = tuple(compiled.positiontup if compiled.positional else compiled.binds)
    binds = [compiled.binds[name] for name in names]
    # a column's parameter is named after its key; a bindparam() after its own name
    from_row = tuple(name in keys for name in names)
    missing = set(keys) - set(names)
    if missing:
        raise ValueError(f"the statement takes no parameter named {sorted(missing)}")
    return _Compiled(
        sql=compiled.string,
        positional=bool(compiled.positional),
        names=names,
        from_row=from_row,
        constants=tuple(None if taken else bind.effective_value for bind, taken in zip(binds, from_row, strict=True)),
        converters=tuple(bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds),
    )


class CompiledWrite:
    """An INSERT or UPDATE whose rows all give the same keys (`keys`: the columns or bind parameters
    they fill); the statement's own values (an upsert's increment) are kept as compiled. `statement`
    may be a function of the dialect, for SQL written differently per database (an upsert)."""

    def __init__(self, statement: Executable | Callable[[Dialect], Executable], keys: Sequence[str]) -> None:
        self.statement = statement
        self.keys = tuple(keys)
        self._by_dialect: dict[str, _Compiled] = {}

    @classmethod
    def insert(cls, table: Table, leave_out: Sequence[str] = ()) -> CompiledWrite:
        """An INSERT of rows giving every column of the table but those left out (which the
        database fills in, like an autoincrement id)."""
        return cls(sa_insert(table), [column.name for column in table.columns if column.name not in leave_out])

    def execute(self, connection: Connection, rows: Sequence[dict]) -> None:
        """Run the statement once per row (one executemany for several), in the caller's transaction."""
        if rows:
            sql, parameters = self._driver_call(connection.dialect, rows)
            connection.exec_driver_sql(sql, parameters if len(parameters) > 1 else parameters[0])

    def execute_dbapi(self, cursor, dialect: Dialect, rows: Sequence[dict]) -> None:
        """The same on a DBAPI cursor of a connection of that dialect, in the transaction it is in
        (backend.loop_writes): the same SQL and the same values reach the driver."""
        if rows:
            sql, parameters = self._driver_call(dialect, rows)
            if len(parameters) > 1:
                cursor.executemany(sql, parameters)
            else:
                cursor.execute(sql, parameters[0])

    def _driver_call(self, dialect: Dialect, rows: Sequence[dict]) -> tuple[str, list]:
        compiled = self._by_dialect.get(dialect.name) or self._compile(dialect)
        return compiled.sql, [compiled.parameters(row) for row in rows]

    def _compile(self, dialect: Dialect) -> _Compiled:
        statement = self.statement(dialect) if callable(self.statement) else self.statement
        compiled = self._by_dialect[dialect.name] = _compile(statement, self.keys, dialect, column_keys=list(self.keys))
        return compiled


@dataclass(frozen=True)
class Writes:
    """Compiled writes and their rows, run in this order in one transaction: as a job of a SQLAlchemy
    Connection (backend.group_commit, a session's connection) or on a DBAPI cursor
    (backend.loop_writes). Every value is made before, so running them again is harmless."""

    steps: tuple[tuple[CompiledWrite, Sequence[dict]], ...] = ()

    def __call__(self, connection: Connection) -> None:
        for write, rows in self.steps:
            write.execute(connection, rows)

    def run_dbapi(self, cursor, dialect: Dialect) -> None:
        for write, rows in self.steps:
            write.execute_dbapi(cursor, dialect, rows)

    def __add__(self, other: Writes) -> Writes:
        return Writes(self.steps + other.steps)


class CompiledRead:
    """A SELECT of one row by the parameters named in `keys`; the row comes back as a dict by column
    name, each value converted as the dialect converts it."""

    def __init__(self, statement: Select, keys: Sequence[str]) -> None:
        self.statement = statement
        self.keys = tuple(keys)
        self._by_dialect: dict[str, tuple[_Compiled, tuple[str, ...], tuple]] = {}

    def first(self, engine: Engine, parameters: dict) -> dict | None:
        """The first row, read on a connection of the engine's pool, outside any session."""
        compiled, names, converters = self._by_dialect.get(engine.dialect.name) or self._compile(engine.dialect)
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(compiled.sql, compiled.parameters(parameters))
            row = cursor.fetchone()
            cursor.close()
        finally:
            connection.close()  # back to the pool, which ends the read
        if row is None:
            return None
        return {name: value if convert is None or value is None else convert(value)
                for name, convert, value in zip(names, converters, row, strict=True)}

    def _compile(self, dialect: Dialect) -> tuple[_Compiled, tuple[str, ...], tuple]:
        compiled = _compile(self.statement, self.keys, dialect)
        columns = list(self.statement.selected_columns)
        found = (compiled, tuple(column.key for column in columns),
                 tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns))
        self._by_dialect[dialect.name] = found
        return found
