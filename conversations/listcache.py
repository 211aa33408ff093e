"""The room list at scale: per-user generations in the database, encoded room objects per worker.

Every write that changes what a user's ``GET /room`` shows calls :func:`touch_rooms` (everybody
in those rooms) or :func:`touch_users` inside its write transaction. The touched users' rows in
``room_list_generations`` are bumped once, as the last statement before the commit, in uid order
(so concurrent writers cannot deadlock on them). A worker serves a cached room list only while
the user's generation in the database is the one it was built under, so a write through any
worker or any app server is seen by the very next request. Changes that happen by the clock (a
lobby timer, a message expiring) end a cached list through its ``valid_until``.

A generation is read before the rooms are: a write that commits in between makes the stored
list newer than its generation, never older, and the next request rebuilds it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from ocs import db as dbm

BATCH = 500
EVERYONE = ""  # the row whose generation every cached list also depends on
_KEY = "room_list_generations"


def touch_rooms(room_ids) -> None:
    """Everybody who is a user member of these rooms when the transaction commits."""
    dbm.before_commit(_KEY, [("room", int(i)) for i in room_ids], _flush)


def touch_users(uids) -> None:
    dbm.before_commit(_KEY, [("user", uid) for uid in uids if uid != EVERYONE], _flush)


def touch_everyone() -> None:
    """Every user (the global row ``''``): for changes that may show in anybody's list, such as a
    renamed user or group, whose name appears in last messages and mentions anywhere."""
    dbm.before_commit(_KEY, [("user", EVERYONE)], _flush)


def touch_members_now(room_ids) -> None:
    """The user members of these rooms as they are now (before they are removed or deleted)."""
    touch_users(_members(list(room_ids)))


def _members(room_ids: list[int]) -> set[str]:
    found: set[str] = set()
    p = dbm.param()
    for start in range(0, len(room_ids), BATCH):
        chunk = room_ids[start : start + BATCH]
        marks = ", ".join([p] * len(chunk))
        rows = dbm.select(
            f"SELECT DISTINCT actor_id FROM attendees WHERE actor_type = 'users' AND room_id IN ({marks})",  # noqa: S608 - placeholders only
            chunk,
        )
        found.update(row[0] for row in rows)
    return found


def _flush(items: set) -> None:
    uids = {value for kind, value in items if kind == "user"}
    rooms = sorted(value for kind, value in items if kind == "room")
    if rooms:
        uids |= _members(rooms)
    ordered = sorted(uids)
    p = dbm.param()
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        values = ", ".join([f"({p}, 1)"] * len(chunk))
        dbm.db.execute_sql(
            f"INSERT INTO room_list_generations (uid, generation) VALUES {values}"  # noqa: S608 - placeholders only
            " ON CONFLICT (uid) DO UPDATE SET generation = room_list_generations.generation + 1",
            chunk,
        )


def generation(uid: str) -> tuple[int, int]:
    """The user's generation and everybody's, in one indexed statement."""
    p = dbm.param()
    sql = f"SELECT uid, generation FROM room_list_generations WHERE uid IN ({p}, {p})"  # noqa: S608 - placeholders only
    found = dict(dbm.select(sql, [uid, EVERYONE]))
    return found.get(uid, 0), found.get(EVERYONE, 0)


@dataclass
class CachedList:
    """One user's room list in one shape: encoded room objects and what filters them."""

    generation: tuple[int, int]
    valid_until: int | None  # the list changes by the clock then (lobby timer, expiring message)
    blob: bytes  # the encoded room objects, joined by the format's separator
    spans: list[tuple[int, int]]  # where each room object lies in ``blob``
    rooms: list[tuple]  # per room object: (id, token, type, last_activity, last_attendee_activity)
    size: int

    def select(self, chosen: list[int], separator: bytes) -> bytes:
        """The room objects at the ``chosen`` positions, joined (one copy)."""
        view = memoryview(self.blob)
        return separator.join(view[self.spans[i][0] : self.spans[i][1]] for i in chosen)


class RoomListCache:
    """Least recently used cached lists of this worker, within ``max_bytes``."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key, current: tuple[int, int], now: int) -> CachedList | None:
        with self._lock:
            entry = self._entries.get(key)
            if (
                entry is None
                or entry.generation != current
                or (entry.valid_until is not None and now >= entry.valid_until)
            ):
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key, entry: CachedList) -> None:
        if entry.size > self.max_bytes // 2:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += entry.size
            while self._bytes > self.max_bytes and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
