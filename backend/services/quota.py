"""How much one owner may keep stored: the bytes of their uploads, at most storage_per_owner_mb.

Why (#28 Low 11): one anonymous request stored 34 MB, and nothing bounded the total. The running
total of each owner is kept in memory once read, so a send costs no query; when a send would pass
the quota the total is read again from the database (deletes, or another worker's uploads, may have
moved it) before the send is refused with 413. Local mode's single owner is not limited.
"""

from __future__ import annotations

import threading

from sqlalchemy import func
from sqlmodel import Session, select

from backend.core.errors import ClosetChatError
from backend.core.identity import LOCAL_OWNER
from backend.models import Upload

MAX_OWNERS = 10_000  # totals remembered; past this the memory is cleared and totals read again


class QuotaExceeded(ClosetChatError):
    status_code = 413


class OwnerStorage:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, int] = {}

    def reserve(self, session: Session, owner: str, new_bytes: int, quota_mb: float) -> None:
        """Count new_bytes against owner's quota, or raise QuotaExceeded (counting nothing)."""
        if owner == LOCAL_OWNER or quota_mb <= 0 or new_bytes == 0:
            return
        quota = int(quota_mb * 1024 * 1024)
        with self._lock:
            known = self._totals.get(owner)
        total = known if known is not None else _stored_bytes(session, owner)
        if total + new_bytes > quota and known is not None:
            total = _stored_bytes(session, owner)
        if total + new_bytes > quota:
            raise QuotaExceeded(f"your photos take {total / 2**20:.0f} MB and the limit is {quota_mb:g} MB; "
                                "delete some in History to send more")
        with self._lock:
            if len(self._totals) > MAX_OWNERS:
                self._totals.clear()
            self._totals[owner] = total + new_bytes


def _stored_bytes(session: Session, owner: str) -> int:
    return int(session.exec(select(func.coalesce(func.sum(Upload.size_bytes), 0)).where(Upload.owner == owner)).one())


STORED = OwnerStorage()  # this process's
