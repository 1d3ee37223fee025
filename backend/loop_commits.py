"""Group commit on the event loop: the writes that reach it in one turn of the loop share a commit.

Under load a worker's event loop takes several requests from one poll of its sockets and runs each
to its commit before the next starts (the photo work runs right there, backend.services.offload).
Committed one by one, each request paid its own BEGIN, writer lock, file lock and COMMIT, and each
commit made the sibling worker reread the pages it had cached. Here a request's writes wait for the
end of the loop's turn; whatever reached it by then is committed in one transaction on the loop
writer (backend.loop_writes), under one file lock.

Nothing here waits either: if a writer or a remover is in the way, the batch is tried again a few
times, 0.5 ms apart (another worker's commit is usually over by then: one send at a time, 14% of
the sends went to a thread without these tries, 3 of 7,780 with them), and then each request is
told to go the usual way (a worker thread, which waits its turn). If the database refuses the shared
transaction, nothing of it stays, and each request's writes are tried alone, so one request's
error reaches only that request. A request is answered only after its commit.

Measured (two workers, the benchmark's chat load, 16 connections): 3.5-7 sends a commit, and 1,043
chat sends a second against 989 without (medians of eight rounds, the two trees in turn).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from backend.compiled_statements import Writes
from backend.loop_writes import LoopWriter, Outcome

ATTEMPTS = 4
RETRY_S = 0.0005


@dataclass
class _Waiting:
    writes: Writes
    still_valid: Callable[[], bool]  # checked under the file lock: are the request's files still in place?
    done: asyncio.Future
    attempts: int = 0


class LoopCommits:
    """A worker's queue of writes to commit on its event loop at the end of the loop's turn."""

    def __init__(self, writer: LoopWriter, guard: Callable[[], AbstractContextManager[bool]],
                 on_batch: Callable[[int], None] | None = None, attempts: int = ATTEMPTS,
                 retry_s: float = RETRY_S) -> None:
        self._writer = writer
        self._guard = guard  # the file lock, taken without waiting: yields whether it was free
        self._on_batch = on_batch  # told each commit's number of requests (the app's metrics)
        self._attempts = attempts
        self._retry_s = retry_s
        self._waiting: list[_Waiting] = []
        self._flush_scheduled = False

    async def commit(self, writes: Writes, still_valid: Callable[[], bool]) -> bool:
        """True once the writes are committed; False when they were not (something stood in the way, or
        the database refused them) and the caller must go the usual way."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(writes, still_valid, loop.create_future())
        self._waiting.append(waiting)
        if not self._flush_scheduled:  # after every callback the loop has ready: the requests of this turn
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await waiting.done

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch = [waiting for waiting in self._waiting if not waiting.done.done()]  # a cancelled request is gone
        self._waiting = []
        if not batch:
            return
        try:
            again = self._commit(batch)
        except Exception as exc:  # noqa: BLE001 -- every waiting request hears of it, as it would alone
            for waiting in batch:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)
            return
        if again:  # nothing joined meanwhile: this ran without a pause
            self._waiting = again
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(self._retry_s, self._flush)

    def _commit(self, batch: list[_Waiting]) -> list[_Waiting]:
        """Commit what can be committed now and answer each request; return those to try again."""
        with self._guard() as free:
            if free:
                ready = self._still_valid(batch)
                if not ready or self._written(ready):
                    return []
                batch = ready
        again = []
        for waiting in batch:
            waiting.attempts += 1
            if waiting.attempts < self._attempts:
                again.append(waiting)
            else:
                waiting.done.set_result(False)
        return again

    @staticmethod
    def _still_valid(batch: list[_Waiting]) -> list[_Waiting]:
        ready = []
        for waiting in batch:
            if waiting.still_valid():
                ready.append(waiting)
            else:  # a remover took a file meanwhile: a thread puts it back
                waiting.done.set_result(False)
        return ready

    def _written(self, ready: list[_Waiting]) -> bool:
        """Write them in one transaction and answer them; False (nobody answered) when it was BUSY."""
        try:
            outcome = self._writer.try_write(Writes(tuple(step for w in ready for step in w.writes.steps)))
        except Exception:
            if len(ready) == 1:
                raise
            outcome = Outcome.REFUSED  # tried alone below, where the one at fault raises again
        if outcome is Outcome.BUSY:
            return False
        if outcome is Outcome.REFUSED and len(ready) > 1:
            for waiting in ready:  # alone, so that only the one at fault is refused
                self._alone(waiting)
        else:
            self._answer(ready, outcome)
        return True

    def _alone(self, waiting: _Waiting) -> None:
        try:
            outcome = self._writer.try_write(waiting.writes)
        except Exception as exc:  # noqa: BLE001 -- that request's error, as it would have been without company
            waiting.done.set_exception(exc)
        else:
            self._answer([waiting], outcome)

    def _answer(self, batch: list[_Waiting], outcome: Outcome) -> None:
        committed = outcome is Outcome.COMMITTED
        if committed and self._on_batch is not None:
            self._on_batch(len(batch))
        for waiting in batch:
            waiting.done.set_result(committed)
