"""``server.secret``: the installation's key for app-password hashes (login L5).

A configured secret wins. Otherwise one is generated on first start and kept in a file beside
the SQLite database (or in ``./data/`` with PostgreSQL) with mode 0600, as Nextcloud writes its
secret at install. The database remembers a fingerprint of the secret it was set up with, so an
app server started with another secret refuses to start instead of silently invalidating every
app password.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from ocs import db as dbm
from ocs.config import ConfigError

log = logging.getLogger("ocs.secret")

FINGERPRINT_KEY = "server.secret_fingerprint"  # noqa: S105 - a setting name
FILE_NAME = "server.secret"  # noqa: S105 - a file name


def secret_file(config) -> Path:
    """Where a generated secret is kept: beside the SQLite file, else ``./data/``."""
    url = config["database"]["url"]
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        return Path(os.path.abspath(url[len("sqlite:///") :])).parent / FILE_NAME
    return Path("data") / FILE_NAME


def load_or_create(config) -> bytes:
    """The secret as bytes: the configured one, or the generated one (created if missing)."""
    configured = config["server"]["secret"]
    if configured:
        return configured.encode("utf-8")
    path = secret_file(config)
    try:
        return path.read_text(encoding="ascii").strip().encode("ascii")
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first
        return path.read_text(encoding="ascii").strip().encode("ascii")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    log.info("generated server.secret in %s", path)
    return value.encode("ascii")


def fingerprint(secret: bytes) -> str:
    return hmac.new(secret, b"ocs-talk server.secret fingerprint", hashlib.sha256).hexdigest()


def check_against_database(secret: bytes) -> None:
    """Remember the secret's fingerprint on first start; refuse a different secret later."""
    mine = fingerprint(secret)
    with dbm.write_tx():
        row = dbm.ServerSetting.get_or_none(dbm.ServerSetting.key == FINGERPRINT_KEY)
        if row is None:
            dbm.ServerSetting.insert(key=FINGERPRINT_KEY, value=mine).on_conflict_ignore().execute()
            row = dbm.ServerSetting.get(dbm.ServerSetting.key == FINGERPRINT_KEY)
    if not hmac.compare_digest(row.value, mine):
        raise ConfigError(
            "server.secret: this database was set up with another secret; every app server sharing "
            "it must use the same server.secret (a different one would invalidate every app password)"
        )


def resolve(config) -> bytes:
    """Load or create the secret and check it against the database (call after migrations)."""
    secret = load_or_create(config)
    try:
        check_against_database(secret)
    finally:
        dbm.discard_connections()
    return secret
