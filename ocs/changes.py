"""Change signals: how every process on the host learns at once that account rows changed.

An authenticated request has to know that the credentials it cached are still good: the account
still exists, its password did not change. Reading the user row back answers that, but on SQLite
that read is half the cost of a small authenticated request. SQLite serves one host only, so
every process that can write the database can also share a small memory-mapped file beside it,
exactly as SQLite's own ``-shm`` file works. Writers of account rows change it; readers keep
their cached row only while it is unchanged.

The file (``<database>-signal``, 4 KiB) holds, little-endian from byte 8:

* ``version`` (u64): a new random value before and after every commit that changes account rows;
* ``busy_until`` (u64, Unix ns): while a write is between its first signal and its commit.

Readers take ``version`` as a token and keep nothing cached while ``busy_until`` lies ahead, so a
writer that dies between commit and its second signal cannot leave an old row trusted: before
the commit the version had changed already, and nobody cached during the window. A writer that
cannot open the file refuses its write (a cached credential could otherwise outlive its
revocation); a reader that cannot open it reads the database on every request, as on PostgreSQL.

PostgreSQL is shared by several hosts, so it has no signal: there every request reads the row.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import secrets
import struct
import threading
import time

log = logging.getLogger("ocs.changes")

SIZE = 4096
MAGIC = b"ocstalk1"
_FIELDS = struct.Struct("<QQ")  # version, busy_until
_OFFSET = len(MAGIC)
# how long after a writer's first signal nothing is cached: covers its COMMIT (a write lock is
# held already, so only the commit itself, including an fsync, runs in the window)
BUSY_WINDOW_NS = 2_000_000_000
RETRY_S = 60.0


class SignalUnavailable(RuntimeError):
    """The signal file cannot be written: an account write must not proceed."""


class ChangeSignal:
    """The memory-mapped signal file beside a SQLite database (opened on first use)."""

    def __init__(self, database_path: str, clock_ns=time.time_ns):
        self.database_path = database_path
        self.path = database_path + "-signal"
        self.clock_ns = clock_ns
        self._map: mmap.mmap | None = None
        self._fd: int | None = None
        self._pid = 0  # the process that mapped it
        self._retry_at = 0.0  # after a failed open: when readers try again
        self._lock = threading.Lock()  # threads share the descriptor, so flock alone is not enough

    def token(self) -> int | None:
        """The current version, or None when nothing may be cached now (a write is in flight, or
        the file cannot be used)."""
        mapped = self._map
        if mapped is None:
            mapped = self._open(for_writing=False)
            if mapped is None:
                return None
        version, busy_until = _FIELDS.unpack_from(mapped, _OFFSET)
        if busy_until and busy_until > self.clock_ns():
            return None
        return version

    def begin_write(self) -> int:
        """Before the commit: a new version, and no caching until :meth:`end_write`. Returns the
        ``busy_until`` written, for :meth:`end_write`."""
        mapped = self._writable()
        with self._locked():
            busy_until = self.clock_ns() + BUSY_WINDOW_NS
            current = _FIELDS.unpack_from(mapped, _OFFSET)[1]
            _FIELDS.pack_into(mapped, _OFFSET, _new_version(), max(busy_until, current))
        return busy_until

    def end_write(self, busy_until: int) -> None:
        """After the commit: a new version; the window is closed unless another writer's is open."""
        mapped = self._writable()
        with self._locked():
            current = _FIELDS.unpack_from(mapped, _OFFSET)[1]
            _FIELDS.pack_into(mapped, _OFFSET, _new_version(), 0 if current == busy_until else current)

    def close(self) -> None:
        with self._lock:
            if self._map is not None:
                self._map.close()
                self._map = None
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    # --- internals ------------------------------------------------------------------------

    def _writable(self) -> mmap.mmap:
        if self._map is not None and self._pid != os.getpid():
            # mapped before a fork: the copy shares the parent's open file, and flock cannot tell
            # the two apart, so a writer maps the file again itself
            self.close()
        mapped = self._map or self._open(for_writing=True)
        if mapped is None:
            raise SignalUnavailable(
                f"cannot write {self.path}: account changes need it (run every process that "
                "writes the database as the user that owns it)"
            )
        return mapped

    def _locked(self):
        return _FileLock(self._lock, self._fd)

    def _open(self, for_writing: bool) -> mmap.mmap | None:
        with self._lock:
            if self._map is not None:
                return self._map
            if not for_writing and time.monotonic() < self._retry_at:
                return None
            try:
                self._fd, self._map = _map_file(self.path, self.database_path)
                self._pid = os.getpid()
            except OSError as exc:
                if not self._retry_at:
                    log.warning(
                        "change signal %s unavailable (%s): credentials are read back on every request",
                        self.path,
                        exc,
                    )
                self._retry_at = time.monotonic() + RETRY_S
                return None
            return self._map


class _FileLock:
    """Writers update ``busy_until`` read-modify-write: the thread lock, then ``flock`` (which
    excludes other open descriptions of the file, i.e. other processes)."""

    def __init__(self, lock: threading.Lock, fd: int):
        self.lock = lock
        self.fd = fd

    def __enter__(self):
        self.lock.acquire()
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, *exc):
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.lock.release()


def _new_version() -> int:
    return secrets.randbits(64)


def _map_file(path: str, database_path: str) -> tuple[int, mmap.mmap]:
    """Open (creating it as SQLite creates ``-shm``: the database file's mode and owner) and map."""
    try:
        stat = os.stat(database_path)
        mode, owner = stat.st_mode & 0o666, (stat.st_uid, stat.st_gid)
    except FileNotFoundError:
        mode, owner = 0o600, None
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_size < SIZE:
                os.ftruncate(fd, SIZE)
                os.pwrite(fd, MAGIC + _FIELDS.pack(_new_version(), 0), 0)
                if owner is not None and os.geteuid() == 0:
                    os.fchown(fd, *owner)
            elif os.pread(fd, len(MAGIC), 0) != MAGIC:
                raise OSError(f"{path} is not an ocs-talk signal file")
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return fd, mmap.mmap(fd, SIZE)
    except BaseException:
        os.close(fd)
        raise


def for_database(path: str) -> ChangeSignal | None:
    """The change signal of the SQLite database at ``path``: None for an in-memory database
    (one connection per thread, each its own database: there is nothing to share). The path is
    resolved as SQLite resolves it, so that processes reaching the file through different
    symbolic links share one signal."""
    if path == ":memory:":
        return None
    return ChangeSignal(os.path.realpath(path))
