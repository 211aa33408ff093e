"""Password hashing with libpass (``passlib`` import): argon2id first, bcrypt verify-only."""

from __future__ import annotations

import logging
import os
import threading

from passlib.context import CryptContext
from passlib.exc import UnknownHashError

from ocs import db as dbm

log = logging.getLogger("ocs.passwords")


class Passwords:
    """The one password context of the process (user and room passwords)."""

    def __init__(self, config):
        section = config["passwords"]
        self.context = CryptContext(
            schemes=["argon2", "bcrypt"],
            deprecated="auto",
            argon2__type="ID",
            argon2__memory_cost=section["argon2_memory_cost"],
            argon2__time_cost=section["argon2_time_cost"],
            argon2__parallelism=section["argon2_parallelism"],
        )
        self._dummy = None
        self.verifications = 0  # counted so tests can prove throttling happens before hashing
        # NOTE: one argon2id verification takes ~19 MB and a core for tens of milliseconds. With
        # hundreds of threads per worker (long polls), a burst of logins would allocate that
        # per thread at once; glibc keeps the memory, so resident size would stay high. Hashing
        # at most one per core at a time bounds both.
        self._slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))

    def _run(self, function, *args):
        if not self._slots.acquire(blocking=False):
            obj = dbm.db.obj
            if obj is not None and not obj.is_closed() and not obj.in_transaction():
                dbm.release_connection()  # do not hold a pooled connection while queued
            self._slots.acquire()
        try:
            return function(*args)
        finally:
            self._slots.release()

    def hash(self, secret: str) -> str:
        return self._run(self.context.hash, secret)

    def verify(self, secret: str, stored: str | None) -> tuple[bool, str | None]:
        """``(ok, new_hash)``; ``new_hash`` is set when the stored hash should be upgraded.

        An empty or missing hash never verifies (and is never handed to libpass, which raises).
        """
        self.verifications += 1
        if not stored:
            self._burn(secret)
            return False, None
        try:
            return self._run(self.context.verify_and_update, secret, stored)
        except (UnknownHashError, ValueError, TypeError) as exc:
            # bcrypt >= 5 raises for secrets over 72 bytes; a corrupt hash raises too
            log.info("password verification failed: %s", exc.__class__.__name__)
            return False, None

    def _burn(self, secret: str) -> None:
        """Spend the time of a real verification so unknown users cannot be told apart."""
        if self._dummy is None:
            self._dummy = self.hash("dummy password for timing")
        self._run(self.context.verify, secret, self._dummy)
