"""Telling a row the database refuses from a database that is not there, and finding the
refused rows of a batch.

A batch is one transaction, so one refused row fails all of it. `save_apart` splits a refused
batch in halves until each refused row stands alone: the other rows are stored, the refused
ones handed back (for the dead letters, `acd.storage.dead_letters`). A database that is
down, locked or full refuses every batch the same way: that error is raised as it is, and
the writer retries the batch later, losing nothing.

What counts as refused (`rejected`), from what each backend raises (measured):
  SQLite (aiosqlite)    an int beyond 64 bits: `OverflowError` while binding, before the
                        statement runs; constraint failures: `IntegrityError`; a locked or
                        unopenable file, a full disk: `OperationalError` (unavailable)
  PostgreSQL (asyncpg)  `DBAPIError` whose driver error has a SQLSTATE: class 22 (data
                        exception: out of range, too long, NUL byte, bad encoding) and 23
                        (integrity) are refusals; 08 (connection), 53 (resources), 57
                        (shutdown), 40 (serialization, deadlock) and anything else unavailable;
                        a refused connection is an `OSError`
Anything not known to be about the data counts as unavailable: retried, never set aside.
`StoreFenced` (`acd.storage.fence`: another leader owns the store) is neither: not a refusal,
so `save_apart` raises it at once, and the writers catch it before their retry and drop the
batch (no dead letters, no retry).

Runtime: a batch of n rows with k refused ones costs O(k log n) transactions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TypeVar

from sqlalchemy import exc as sa_exc

Row = TypeVar("Row")

#: SQLSTATE classes that blame the data of the statement, not the server.
_REJECTING_SQLSTATE_CLASSES = ("22", "23")

#: Python errors a driver raises while converting one value (before or instead of the
#: server's own error): an int too big, a string the encoding cannot carry, a wrong type.
_CONVERSION_ERRORS = (OverflowError, UnicodeError, TypeError, ValueError)


def rejected(error: BaseException) -> bool:
    """True when `error` says the database refused the rows written (retrying cannot help);
    False when it says the database is unavailable (or nothing known about the data)."""
    chain = list(_chain(error))
    if any(isinstance(e, OSError | sa_exc.DisconnectionError) for e in chain):
        return False
    if any(isinstance(e, sa_exc.OperationalError | sa_exc.InterfaceError) for e in chain):
        # asyncpg's own data errors come wrapped as InterfaceError-like: its SQLSTATE decides.
        return any(_sqlstate_rejects(e) for e in chain)
    if any(isinstance(e, sa_exc.IntegrityError | sa_exc.DataError) for e in chain):
        return True
    if any(_sqlstate_rejects(e) for e in chain):
        return True
    return any(
        isinstance(e, _CONVERSION_ERRORS) and not isinstance(e, sa_exc.SQLAlchemyError)
        for e in chain
    )


def _sqlstate_rejects(error: BaseException) -> bool:
    state = getattr(error, "sqlstate", None)
    return isinstance(state, str) and state[:2] in _REJECTING_SQLSTATE_CLASSES


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, the driver error SQLAlchemy wraps, and their causes (each once)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        orig = getattr(e, "orig", None)
        todo.extend((orig if isinstance(orig, BaseException) else None, e.__cause__))


async def save_apart(
    save: Callable[[Sequence[Row]], Awaitable[None]], rows: Sequence[Row]
) -> list[tuple[Row, BaseException]]:
    """Save `rows` (one transaction per `save` call); when the database refuses them, save
    halves until each refused row is alone. Returns the refused rows with their error, every
    other row being saved. An error that is not a refusal is raised: the caller keeps every
    row for a retry (rows saved meanwhile are saved again; upserts are idempotent)."""
    if not rows:
        return []
    try:
        await save(rows)
        return []
    except Exception as error:
        if not rejected(error):
            raise
        if len(rows) == 1:
            return [(rows[0], error)]
    middle = len(rows) // 2
    first = await save_apart(save, rows[:middle])
    return first + await save_apart(save, rows[middle:])


def describe(error: BaseException) -> str:
    """The error in one short line (SQLAlchemy's text goes on with the SQL and parameters)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300] if text else ''}"
