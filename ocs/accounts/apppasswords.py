"""App passwords (login §8.2): permanent client credentials, stored only as
HMAC-SHA256(``server.secret``, password) under a unique index (L5), never cached (L7)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time

import peewee

from ocs import db as dbm
from ocs.accounts import service as accounts
from ocs.accounts.models import User
from ocs.db import BaseModel, write_tx

ALPHABET = string.ascii_letters + string.digits
LENGTH = 72
MIN_TOKEN_LENGTH = 22  # upstream TOKEN_MIN_LENGTH: shorter strings are never app passwords
ACTIVITY_INTERVAL = 60
MAX_NAME = 128


class AppPassword(BaseModel):
    id = peewee.AutoField()
    user = peewee.ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
    login_name = peewee.CharField(max_length=64)
    name = peewee.CharField(max_length=MAX_NAME, default="")
    secret_hash = peewee.CharField(max_length=64, unique=True)
    created_at = peewee.BigIntegerField()
    last_activity = peewee.BigIntegerField()
    last_rotated_at = peewee.BigIntegerField(null=True)

    class Meta:
        table_name = "app_passwords"


def client_name(name: str) -> str:
    """Longer than 128 code points: the first 120 and an ellipsis (upstream ``generateToken``)."""
    name = name or ""
    return name if len(name) <= MAX_NAME else name[:120] + "…"


class AppPasswords:
    """Create, find, rotate and revoke app passwords with the installation's secret."""

    def __init__(self, secret: bytes, clock=time.time):
        self._secret = secret
        self.clock = clock
        self._sql = None

    def digest(self, password: str) -> str:
        return hmac.new(self._secret, password.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    @staticmethod
    def new_secret() -> str:
        return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))

    def create(self, user, name: str) -> tuple[AppPassword, str]:
        """A new app password for ``user``; the plaintext is returned once and never stored."""
        plain = self.new_secret()
        now = int(self.clock())
        with write_tx():
            row = AppPassword.create(
                user=user.id,
                login_name=user.uid,
                name=client_name(name),
                secret_hash=self.digest(plain),
                created_at=now,
                last_activity=now,
            )
        return row, plain

    def authenticate(self, login: str, password: str):
        """``(user, app password id)`` when ``password`` is an app password of ``login``'s user:
        the app password and its user (as :func:`accounts.user_by_id` reads it) in one query."""
        if len(password) < MIN_TOKEN_LENGTH:
            return None
        if self._sql is None or self._sql[0] != dbm.param():
            p = dbm.param()
            columns = ", ".join(f"u.{column}" for column in accounts.USER_COLUMNS)
            self._sql = (
                p,
                f"SELECT a.id, a.last_activity, {columns} FROM app_passwords a JOIN users u ON u.id = a.user_id WHERE a.secret_hash = {p}",  # noqa: S608 - identifiers and placeholders only
            )
        row = dbm.select_one(self._sql[1], (self.digest(password),))
        if row is None:
            return None
        token_id, last_activity = row[0], row[1]
        user = accounts.user_from_row(row[2:])
        if user.uid_lower != login.lower():
            return None  # the owner's login name only (any letter case), as upstream
        now = int(self.clock())
        if now - last_activity >= ACTIVITY_INTERVAL:
            with write_tx():
                AppPassword.update(last_activity=now).where(AppPassword.id == token_id).execute()
        return user, token_id

    def rotate(self, token_id: int) -> str:
        """A new secret for the same row; the old one is rejected from the commit on (L8)."""
        plain = self.new_secret()
        with write_tx():
            AppPassword.update(secret_hash=self.digest(plain), last_rotated_at=int(self.clock())).where(
                AppPassword.id == token_id
            ).execute()
        return plain

    @staticmethod
    def delete(token_id: int) -> bool:
        with write_tx():
            return bool(AppPassword.delete().where(AppPassword.id == token_id).execute())

    @staticmethod
    def of_user(user) -> list[AppPassword]:
        return list(AppPassword.select().where(AppPassword.user == user.id).order_by(AppPassword.id))
