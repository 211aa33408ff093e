"""Giving memory back to the system after work that allocates a lot at once."""

from __future__ import annotations

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 256 * 1024


def _libc(function: str):
    """A glibc function, or None elsewhere."""
    try:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        return getattr(ctypes.CDLL(name), function) if name else None
    except (OSError, AttributeError):
        return None


_TRIM = _libc("malloc_trim")
_MALLOPT = _libc("mallopt")


def fix_mmap_threshold() -> None:
    """Serve every allocation above 256 KiB from its own mapping, returned when freed.

    NOTE: glibc raises its mmap threshold to the size of the largest mapped block freed so far.
    After one argon2 verification (19 MiB) every later one then came from the heap and stayed
    resident: a worker grew by 19 MB on its second login. A fixed threshold keeps large,
    short-lived buffers (password hashes, long room lists being built) out of the heap."""
    if _MALLOPT is not None:
        _MALLOPT(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def trim_memory() -> None:
    """Return the free pages glibc keeps after a burst of allocations (a no-op elsewhere).

    NOTE: Python frees objects into glibc's heap, which keeps the pages; without this a worker's
    resident memory stays at the peak of its largest request (a 1,000-room list, hundreds of
    polls each with their own SQLite connection)."""
    if _TRIM is not None:
        _TRIM(0)
