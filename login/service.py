"""Login flow rules (``login.md`` §3, §4, §8): flows, their single-use poll, the login web
sessions of the pages, and the grant that ends in an app password. No HTTP here."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import string

from login.models import LoginFlow, LoginSession
from ocs.accounts import service as accounts
from ocs.accounts.apppasswords import client_name
from ocs.db import write_tx

log = logging.getLogger("login")

TOKEN_ALPHABET = string.ascii_letters + string.digits
FLOW_TOKEN_LENGTH = 128
STATE_TOKEN_LENGTH = 64
LIFETIME_S = 1200  # flows and login web sessions live 20 minutes
PURGE_EVERY_S = 60


def random_token(length: int) -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(length))


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class Session:
    """A login web session's data: flow (v2) or client (v1), state and CSRF tokens, user."""

    def __init__(self, key_hash: str, data: dict):
        self.key_hash = key_hash
        self.data = data

    def __getitem__(self, name):
        return self.data.get(name)

    def tokens_match(self, name: str, presented: str | None) -> bool:
        expected = self.data.get(name) or ""
        return bool(presented) and hmac.compare_digest(
            expected.encode(), presented.encode("utf-8", "replace")
        )


class LoginService:
    """Flows and login web sessions, with the platform's clock, passwords and app passwords."""

    def __init__(self, platform):
        self.platform = platform
        self._next_purge = 0

    def now(self) -> int:
        return int(self.platform.clock())

    # --- Login Flow v2 ----------------------------------------------------------------------

    def create_flow(self, user_agent: str) -> tuple[str, str]:
        """R1: a pending flow; returns (poll token, login token), shown once."""
        self._purge()
        poll, login = random_token(FLOW_TOKEN_LENGTH), random_token(FLOW_TOKEN_LENGTH)
        with write_tx():
            LoginFlow.create(
                poll_token_hash=sha256(poll),
                login_token_hash=sha256(login),
                client_name=client_name(user_agent),
                created_at=self.now(),
            )
        return poll, login

    def _live(self, flow):
        if flow is None:
            return None
        if self.now() - flow.created_at > LIFETIME_S:
            with write_tx():
                LoginFlow.delete().where(LoginFlow.id == flow.id).execute()
            return None
        return flow

    def flow_by_login_token(self, token: str):
        return self._live(LoginFlow.get_or_none(LoginFlow.login_token_hash == sha256(token)))

    def flow_by_id(self, flow_id):
        return self._live(LoginFlow.get_or_none(LoginFlow.id == flow_id)) if flow_id else None

    def poll(self, token: str) -> dict | None:
        """R2: the credentials once the flow is granted (single use, L4), else None."""
        flow = self._live(LoginFlow.get_or_none(LoginFlow.poll_token_hash == sha256(token)))
        if flow is None or flow.granted_at is None:
            return None
        with write_tx():
            # the delete decides which of two concurrent polls wins
            if not LoginFlow.delete().where(LoginFlow.id == flow.id).execute():
                return None
            user = accounts.user_by_id(flow.user_id)
            if user is None:
                return None
            _row, password = self.platform.app_passwords.create(user, flow.client_name)
        log.info("login flow completed for %s (%s)", user.uid, flow.client_name[:64])
        return {"server": flow.server, "loginName": user.uid, "appPassword": password}

    def start_flow(self, flow) -> None:
        with write_tx():
            LoginFlow.update(started=True).where(LoginFlow.id == flow.id).execute()

    def grant_flow(self, flow, user, server: str) -> bool:
        with write_tx():
            changed = (
                LoginFlow.update(user=user.id, login_name=user.uid, server=server, granted_at=self.now())
                .where((LoginFlow.id == flow.id) & LoginFlow.granted_at.is_null())
                .execute()
            )
        return bool(changed)

    # --- login web sessions ------------------------------------------------------------------

    def new_session(self, **data) -> tuple[str, Session]:
        """A new session (cookie value, session) with fresh state and CSRF tokens."""
        value = secrets.token_urlsafe(32)
        data.update(
            state=random_token(STATE_TOKEN_LENGTH), csrf=secrets.token_urlsafe(32), created=self.now()
        )
        with write_tx():
            LoginSession.create(key_hash=sha256(value), data=json.dumps(data), created_at=self.now())
        return value, Session(sha256(value), data)

    def load_session(self, value: str | None) -> Session | None:
        if not value:
            return None
        row = LoginSession.get_or_none(LoginSession.key_hash == sha256(value))
        if row is None:
            return None
        if self.now() - row.created_at > LIFETIME_S:
            self.end_session(row.key_hash)
            return None
        return Session(row.key_hash, json.loads(row.data))

    def save_session(self, session: Session) -> None:
        with write_tx():
            LoginSession.update(data=json.dumps(session.data), user=session.data.get("user_pk")).where(
                LoginSession.key_hash == session.key_hash
            ).execute()

    def rotate_session(self, session: Session) -> str:
        """A new cookie value for the same session (after a password login: no fixation)."""
        value = secrets.token_urlsafe(32)
        with write_tx():
            LoginSession.update(
                key_hash=sha256(value), data=json.dumps(session.data), user=session.data.get("user_pk")
            ).where(LoginSession.key_hash == session.key_hash).execute()
        session.key_hash = sha256(value)
        return value

    @staticmethod
    def end_session(key_hash: str) -> None:
        with write_tx():
            LoginSession.delete().where(LoginSession.key_hash == key_hash).execute()

    def log_in(self, login: str, password: str):
        """The account password only (app passwords are not accepted on the form)."""
        return accounts.verify_login(self.platform.passwords, login, password)

    def _purge(self) -> None:
        now = self.now()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_S
        with write_tx():
            LoginFlow.delete().where(LoginFlow.created_at < now - LIFETIME_S).execute()
            LoginSession.delete().where(LoginSession.created_at < now - LIFETIME_S).execute()
