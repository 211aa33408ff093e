"""Authentication: who is calling. HTTP Basic against local accounts, plus pluggable backends.

``auth.backend`` chooses:

* ``local``: HTTP Basic only (``ocs.md`` §10).
* ``trusted_header``: the user id in ``auth.trusted_header``, honoured only when the TCP peer is
  in ``auth.trusted_header_proxies``; otherwise HTTP Basic as with ``local``.
* ``callable``: ``auth.callable`` names ``module:function(environ) -> user id or None``; when it
  returns None, HTTP Basic as with ``local``.

The result is a :class:`~ocs.accounts.models.User` or None (anonymous).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib
import ipaddress
import logging
import secrets
import threading
import time
from typing import NamedTuple

from ocs import db as dbm
from ocs import throttle as throttling
from ocs.accounts import service as accounts
from ocs.accounts.models import User
from ocs.config import ConfigError
from ocs.errors import Unauthorised

log = logging.getLogger("ocs.auth")

CHALLENGE = 'Basic realm="Authorisation Required"'
XHR_CHALLENGE = 'DummyBasic realm="Authorisation Required"'
CACHE_LIMIT = 10000


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """``(login, password)`` from a Basic header with both parts non-empty, else None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if ":" not in decoded:
        return None
    login, password = decoded.split(":", 1)
    if not login or not password or "\x00" in login:
        return None
    return login, password


def is_bearer(header: str | None) -> bool:
    return bool(header) and header.strip().lower().startswith("bearer ")


def unauthorised(req) -> Unauthorised:
    xhr = (req.get_header("X-Requested-With") or "").lower() == "xmlhttprequest"
    return Unauthorised(headers={"WWW-Authenticate": XHR_CHALLENGE if xhr else CHALLENGE})


class CachedCredential(NamedTuple):
    user_id: int
    epoch: int  # the user's credential epoch when the password was verified
    expires: float  # the password is verified again after this (monotonic clock)
    data: dict  # the user row as last read (without the password hash)
    token: int | None  # the change signal's token when ``data`` was read (ocs/changes.py)


class CredentialCache:
    """Verified Basic credentials per process, keyed by a MAC (process secret) of the whole
    ``Authorization`` header, so that a hit needs neither base64 nor a password hash; the
    credentials themselves are never kept, nor the password hash."""

    def __init__(self, ttl: int, clock=time.monotonic):
        self.ttl = ttl
        self.clock = clock
        # keyed BLAKE2b is a MAC in C (hmac.new costs ~5x more per request); the keyed state is
        # made once and copied per request, which skips compressing the key block each time
        self._mac = hashlib.blake2b(key=secrets.token_bytes(32), digest_size=32)
        self._entries: dict[bytes, CachedCredential] = {}
        self._lock = threading.Lock()

    def _key(self, header: str) -> bytes:
        mac = self._mac.copy()
        mac.update(header.encode("utf-8", "surrogatepass"))
        return mac.digest()

    def lookup(self, header: str) -> CachedCredential | None:
        """What is stored for this header, unless expired."""
        if self.ttl <= 0:
            return None
        key = self._key(header)
        entry = self._entries.get(key)  # one dict operation: atomic, no lock needed to read
        if entry is None:
            return None
        if entry.expires < self.clock():
            self._entries.pop(key, None)
            return None
        return entry

    def store(self, header: str, user: User, token: int | None) -> None:
        """After the password was verified; ``token`` as read before the user row was."""
        if self.ttl <= 0:
            return
        self._put(header, user.id, user.credential_epoch, self.clock() + self.ttl, user, token)

    def refresh(self, header: str, entry: CachedCredential, user: User, token: int | None) -> None:
        """The row read again (same credential epoch), the password not: the expiry stays."""
        self._put(header, entry.user_id, entry.epoch, entry.expires, user, token)

    def _put(self, header, user_id, epoch, expires, user, token) -> None:
        data = {name: user.__data__.get(name) for name in accounts.USER_FIELDS}
        key = self._key(header)
        with self._lock:
            if key not in self._entries and len(self._entries) >= CACHE_LIMIT:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = CachedCredential(user_id, epoch, expires, data, token)


class BasicAuth:
    """HTTP Basic against local accounts, throttled (``login``) before any hash is computed."""

    def __init__(
        self, passwords, throttler: throttling.Throttler, cache: CredentialCache, app_passwords=None
    ):
        self.passwords = passwords
        self.throttler = throttler
        self.cache = cache
        self.app_passwords = app_passwords

    def authenticate(self, req, client) -> User | None:
        header = req.env.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        # read before any user row: a change committed after this is seen by the next request
        signal = dbm.db.obj.changes
        token = signal.token() if signal is not None else None
        cached = self.cache.lookup(header)
        if cached is not None:
            if token is not None and cached.token == token:
                # no account row changed on this host since the row was read (SQLite)
                return accounts.user_from_data(cached.data.copy())
            # one indexed read, so that a deleted account or a changed password (a new
            # credential epoch) is refused at once by every worker and server
            user = accounts.user_by_id(cached.user_id)
            if user is not None and user.credential_epoch == cached.epoch:
                self.cache.refresh(header, cached, user, token)
                return user
        if is_bearer(header):
            self.throttler.register(client, throttling.LOGIN, {"user": ""})
            raise unauthorised(req)
        credentials = parse_basic(header)
        if credentials is None:
            return None
        login, password = credentials
        earlier = self.throttler.precheck(client, throttling.LOGIN)
        # app passwords first (login §9): one indexed lookup, never cached, so that a revoked
        # one fails on the very next request in every worker (L7)
        found = self.app_passwords.authenticate(login, password) if self.app_passwords is not None else None
        if found is not None:
            user, req.context.app_password_id = found
            if earlier:
                self.throttler.reset(client, throttling.LOGIN, {"user": user.uid})
            return user
        user = accounts.verify_login(self.passwords, login, password)
        if user is None:
            log.info("login failed for %r from %s", login[:64], client.ip)
            self.throttler.register(client, throttling.LOGIN, {"user": login})
            raise unauthorised(req)
        if earlier:
            self.throttler.reset(client, throttling.LOGIN, {"user": user.uid})
        self.cache.store(header, user, token)
        return user


class TrustedHeaderAuth:
    """User id from a header set by an authenticating reverse proxy."""

    def __init__(self, config, fallback: BasicAuth):
        section = config["auth"]
        self.header = section["trusted_header"]
        self.proxies = [ipaddress.ip_network(c, strict=False) for c in section["trusted_header_proxies"]]
        self.provision = section["provision_users"]
        self.fallback = fallback

    def _from_proxy(self, req) -> bool:
        try:
            peer = ipaddress.ip_address((req.env.get("REMOTE_ADDR") or "").split("%", 1)[0])
        except ValueError:
            return False
        return any(peer in net for net in self.proxies)

    def authenticate(self, req, client) -> User | None:
        uid = (req.get_header(self.header) or "").strip()
        if uid and self._from_proxy(req):
            return _resolve(uid, self.provision, req)
        return self.fallback.authenticate(req, client)


class CallableAuth:
    """An integrator's function of the WSGI environ returning a user id (or None)."""

    def __init__(self, config, fallback: BasicAuth):
        self.function = import_callable(config["auth"]["callable"])
        self.provision = config["auth"]["provision_users"]
        self.fallback = fallback

    def authenticate(self, req, client) -> User | None:
        uid = self.function(req.env)
        if uid:
            return _resolve(str(uid), self.provision, req)
        return self.fallback.authenticate(req, client)


def _resolve(uid: str, provision: bool, req) -> User:
    user = accounts.ensure_user(uid) if provision else accounts.find_user(uid)
    if user is None:
        log.warning("authentication backend named unknown or invalid user %r", uid[:64])
        raise unauthorised(req)
    return user


def import_callable(path: str):
    """Resolve ``package.module:function`` (or ``package.module.function``)."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"auth.callable: cannot import {path!r}: {exc}") from exc
    if not callable(function):
        raise ConfigError(f"auth.callable: {path!r} is not callable")
    return function


def make_authenticator(config, passwords, throttler, app_passwords=None):
    """The authenticator that ``auth.backend`` selects."""
    cache = CredentialCache(config["passwords"]["credential_cache_ttl"])
    basic = BasicAuth(passwords, throttler, cache, app_passwords)
    backend = config["auth"]["backend"]
    if backend == "trusted_header":
        return TrustedHeaderAuth(config, basic)
    if backend == "callable":
        return CallableAuth(config, basic)
    return basic
