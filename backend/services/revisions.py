"""Per-owner revision numbers: raised in the same transaction as any change to an owner's
predictions (new, corrected, deleted), read with one primary-key lookup.

What is derived from an owner's predictions (the history charts) can then be kept in each worker
process and trusted exactly as long as the revision it was computed at is still the current one.
Every path that writes predictions calls touch(); a path that forgot would serve stale charts,
which tests/backend/test_history.py checks for each write the app makes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from backend.models import OwnerRevision

T = TypeVar("T")


def current(session: Session, owner: str) -> int:
    value = session.exec(select(OwnerRevision.revision).where(OwnerRevision.owner == owner)).first()
    return value or 0


def touch(session: Session, owner: str) -> None:
    """Raise the owner's revision inside the session's transaction (the caller commits)."""
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[session.get_bind().dialect.name]
    statement = insert(OwnerRevision).values(owner=owner, revision=1)
    session.exec(statement.on_conflict_do_update(index_elements=[OwnerRevision.owner],
                                                 set_={"revision": OwnerRevision.revision + 1}))


class RevisionCache(Generic[T]):
    """A bounded, thread-safe map from (owner, key) to a value computed at a revision."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, Hashable], tuple[int, T]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get_or_compute(self, session: Session, owner: str, key: Hashable, compute: Callable[[], T]) -> T:
        revision = current(session, owner)  # read first: what compute() sees is at least this new
        with self._lock:
            found = self._items.get((owner, key))
            if found is not None and found[0] == revision:
                self._items.move_to_end((owner, key))
                self.hits += 1
                return found[1]
            self.misses += 1
        value = compute()
        with self._lock:
            self._items[(owner, key)] = (revision, value)
            self._items.move_to_end((owner, key))
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value
