"""Giving memory back to the system after work that allocates a lot at once."""

from __future__ import annotations


def _libc_trim():
    """glibc's ``malloc_trim``, or None elsewhere."""
    try:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


_TRIM = _libc_trim()


def trim_memory() -> None:
    """Return the free pages glibc keeps after a burst of allocations (a no-op elsewhere).

    NOTE: Python frees objects into glibc's heap, which keeps the pages; without this a worker's
    resident memory stays at the peak of its largest request (a 1,000-room list, hundreds of
    polls each with their own SQLite connection)."""
    if _TRIM is not None:
        _TRIM(0)
