"""Waiting long polls (C9): no database connection while waiting, woken in-process by the commit
of a new chat row, and across processes by one watcher query per second.

A waiting poll registers a :class:`Waiter` with the highest message id it has seen (its
*floor*). Posting in this process wakes the room's waiters right after the commit
(:meth:`Waiters.notify`); a daemon thread per process asks the database once a second for the
newest row of every room that has waiters and wakes those whose floor it passed, which catches
rows committed by other worker processes or app servers.
"""

from __future__ import annotations

import logging
import threading

from ocs import db as dbm
from ocs.memory import trim_memory

log = logging.getLogger("chat.waiter")

WATCH_INTERVAL_S = 1.0


class Waiter:
    """One waiting poll: the room, the newest id it has seen, and its wake-up event."""

    __slots__ = ("room_id", "floor", "event")

    def __init__(self, room_id: int, floor: int):
        self.room_id = room_id
        self.floor = floor
        self.event = threading.Event()

    def wait(self, seconds: float) -> bool:
        """Sleep until woken or ``seconds`` passed; True when woken."""
        woken = self.event.wait(seconds)
        self.event.clear()
        return woken


class Waiters:
    """The waiting polls of this process, by room."""

    def __init__(self, interval: float = WATCH_INTERVAL_S):
        self.interval = interval
        self._lock = threading.Lock()
        self._rooms: dict[int, set[Waiter]] = {}
        self._watcher: threading.Thread | None = None
        self._pid = None

    def add(self, room_id: int, floor: int) -> Waiter:
        waiter = Waiter(room_id, floor)
        with self._lock:
            self._rooms.setdefault(room_id, set()).add(waiter)
            self._ensure_watcher()
        return waiter

    def remove(self, waiter: Waiter) -> None:
        with self._lock:
            waiting = self._rooms.get(waiter.room_id)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self._rooms[waiter.room_id]

    def count(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._rooms.values())

    def notify(self, room_id: int, newest: int | None = None) -> None:
        """Wake the room's waiters (those below ``newest`` when it is given)."""
        with self._lock:
            waiting = list(self._rooms.get(room_id, ()))
        for waiter in waiting:
            if newest is None or newest > waiter.floor:
                waiter.event.set()

    # --- the cross-process watcher ----------------------------------------------------------

    def _ensure_watcher(self) -> None:
        import os

        # a forked worker inherits the object but not the thread: start one per process
        if self._watcher is not None and self._watcher.is_alive() and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._watcher = threading.Thread(target=self._watch, name="chat-watcher", daemon=True)
        self._watcher.start()

    def _floors(self) -> dict[int, int]:
        with self._lock:
            return {room: min(w.floor for w in waiting) for room, waiting in self._rooms.items() if waiting}

    def _watch(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.interval):
            floors = self._floors()
            if not floors:
                continue
            try:
                for room_id, newest in newest_ids(list(floors)):
                    if newest is not None and newest > floors.get(room_id, newest):
                        self.notify(room_id, newest)
            except Exception as exc:  # the database may be away; waiters time out by themselves
                log.warning("chat watcher: %s", exc.__class__.__name__)
            finally:
                dbm.release_connection()  # PostgreSQL: back to the pool; SQLite: this thread's own
                trim_memory()


def newest_ids(room_ids: list[int]) -> list[tuple[int, int]]:
    """The newest chat row id of each room, in one indexed query."""
    marks = ", ".join([dbm.param()] * len(room_ids))
    return dbm.select(
        f"SELECT room_id, MAX(id) FROM chat_messages WHERE room_id IN ({marks}) GROUP BY room_id",  # noqa: S608 - placeholders only
        room_ids,
    )
