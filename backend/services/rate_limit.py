"""How many photos one owner may store a minute, per server process.

Why (#28 Low 11): nothing limited one identity's uploads; one anonymous request stored 34 MB and a
script could go on doing so. A browser or API key past the limit is answered 429 with Retry-After
and nothing of that request is stored. Local mode's single owner ("local", a one-user machine whose
scripts may send whole folders) is not limited. New anonymous identities are cheap to get, so this
bounds a careless client, not a determined one: a reverse proxy's per-address limit does that.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from backend.core.errors import ClosetChatError
from backend.core.identity import LOCAL_OWNER

WINDOW_S = 60.0
MAX_OWNERS = 10_000  # past this, owners idle for a whole window are forgotten


class RateLimited(ClosetChatError):
    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class OwnerRate:
    """A sliding window of store times per owner."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stored: dict[str, deque[float]] = {}

    def take(self, owner: str, count: int, per_minute: int) -> None:
        """Count `count` photos stored by owner now, or raise RateLimited (counting none)."""
        if owner == LOCAL_OWNER or per_minute <= 0 or count == 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._stored) > MAX_OWNERS:
                self._forget_idle(now)
            times = self._stored.setdefault(owner, deque())
            while times and times[0] <= now - WINDOW_S:
                times.popleft()
            if len(times) + count > per_minute:
                wait = math.ceil(times[0] + WINDOW_S - now) if times else math.ceil(WINDOW_S)
                raise RateLimited(f"that is more than {per_minute} photos a minute; "
                                  f"try again in {wait} s", retry_after=max(1, wait))
            times.extend([now] * count)

    def _forget_idle(self, now: float) -> None:
        for owner in [o for o, t in self._stored.items() if not t or t[-1] <= now - WINDOW_S]:
            del self._stored[owner]


PHOTOS = OwnerRate()  # this process's
