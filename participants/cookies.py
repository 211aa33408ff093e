"""The cookie session (``security.md`` §5, D10): per-client Talk state, never a login.

The cookie carries 32 random bytes (base64url); the server keeps only their sha256. A session is
bound to the principal that created it (a user id, or anonymous): a request by anybody else
ignores it and, when it must store state, gets a new one. It is created lazily (on join), expires
after ``session.idle_timeout`` without use and 7 days after creation, and holds at most 1000
room entries.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets

from ocs.db import write_tx
from participants.models import WebSession

log = logging.getLogger("participants.cookies")

MAX_AGE = 7 * 86400
MAX_ENTRIES = 1000
ANONYMOUS = "anonymous"
_UNLOADED = object()


def principal_of(req) -> str:
    user = req.context.user
    return f"user:{user.uid}" if user is not None else ANONYMOUS


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("ascii", "replace")).hexdigest()


def room_key(req, token: str) -> str:
    """``token`` or ``token#tabId`` (``X-Nextcloud-Talk-Session-Tab-Id``, 64 alphanumerics)."""
    tab = req.get_header("X-Nextcloud-Talk-Session-Tab-Id") or ""
    if len(tab) == 64 and tab.isascii() and tab.isalnum():
        return f"{token}#{tab}"
    return token


def tab_suffix(req) -> str:
    tab = req.get_header("X-Nextcloud-Talk-Session-Tab-Id") or ""
    return f"${tab}" if len(tab) == 64 and tab.isascii() and tab.isalnum() else ""


class CookieSession:
    """A loaded cookie session: its row and decoded room map."""

    def __init__(self, row: WebSession, value: str):
        self.row = row
        self.value = value
        try:
            self.data = json.loads(row.data)
        except ValueError:
            self.data = {}
        self.rooms: dict = self.data.setdefault("rooms", {})

    def entry(self, key: str) -> dict | None:
        entry = self.rooms.get(key)
        return entry if isinstance(entry, dict) else None


class CookieSessions:
    """Loads, creates, saves and rotates cookie sessions."""

    def __init__(self, platform):
        self.platform = platform
        self.name = platform.config["session"]["cookie_name"]
        self.idle = platform.config["session"]["idle_timeout"]
        self.path = platform.config["server"]["base_path"] or "/"

    def now(self) -> int:
        return int(self.platform.clock())

    def load(self, req) -> CookieSession | None:
        """The caller's cookie session, if valid for this principal (cached per request)."""
        cached = getattr(req.context, "cookie_session", _UNLOADED)
        if cached is not _UNLOADED:
            return cached
        session = None
        value = req.cookies.get(self.name)
        if isinstance(value, list):
            value = value[0]
        if value and len(value) == 43:
            row = WebSession.get_or_none(WebSession.key_hash == _hash(value))
            now = self.now()
            if row is not None and (row.last_used < now - self.idle or row.created_at < now - MAX_AGE):
                with write_tx():
                    WebSession.delete().where(WebSession.key_hash == row.key_hash).execute()
                row = None
            if row is not None and secrets.compare_digest(row.principal, principal_of(req)):
                session = CookieSession(row, value)
        req.context.cookie_session = session
        return session

    def _set_cookie(self, req, resp, value: str) -> None:
        resp.set_cookie(
            self.name,
            value,
            path=self.path,
            secure=bool(getattr(req.context, "https", False)),
            http_only=True,
            same_site="Lax",
        )

    def ensure(self, req, resp) -> CookieSession:
        """The caller's session, created (with ``Set-Cookie``) when there is none."""
        session = self.load(req)
        if session is not None:
            return session
        value = secrets.token_urlsafe(32)
        now = self.now()
        with write_tx():
            row = WebSession.create(
                key_hash=_hash(value), principal=principal_of(req), data="{}", created_at=now, last_used=now
            )
        self._set_cookie(req, resp, value)
        session = CookieSession(row, value)
        req.context.cookie_session = session
        return session

    def save(self, session: CookieSession) -> None:
        if len(session.rooms) > MAX_ENTRIES:
            for key in list(session.rooms)[: len(session.rooms) - MAX_ENTRIES]:
                del session.rooms[key]
        data = json.dumps(session.data, separators=(",", ":"))
        with write_tx():
            WebSession.update(data=data, last_used=self.now()).where(
                WebSession.key_hash == session.row.key_hash
            ).execute()
        session.row.data = data

    def rotate(self, req, resp, session: CookieSession) -> None:
        """New cookie value for the same state; the old value stops working (CVE-2021-32676)."""
        value = secrets.token_urlsafe(32)
        new_key = _hash(value)
        with write_tx():
            WebSession.update(key_hash=new_key, last_used=self.now()).where(
                WebSession.key_hash == session.row.key_hash
            ).execute()
        session.row.key_hash = new_key
        session.value = value
        self._set_cookie(req, resp, value)

    def forget_principal(self, principal: str) -> None:
        """Drop every cookie session bound to ``principal`` (user deletion)."""
        WebSession.delete().where(WebSession.principal == principal).execute()


def new_session_id(suffix: str = "") -> str:
    """255 characters from ``A-Za-z0-9+/`` (cryptographic RNG), plus an optional tab suffix."""
    raw = base64.b64encode(secrets.token_bytes(192)).decode("ascii")
    return raw[:255] + suffix
