"""Schema migrations of the login component."""

from __future__ import annotations

from ocs.db import Dialect, Migration


def _login(d: Dialect) -> None:
    d.run(
        f"""CREATE TABLE login_flows (
            id {d.pk},
            poll_token_hash CHAR(64) NOT NULL UNIQUE,
            login_token_hash CHAR(64) NOT NULL UNIQUE,
            client_name VARCHAR(128) NOT NULL DEFAULT '',
            created_at {d.bigint} NOT NULL,
            started BOOLEAN NOT NULL DEFAULT FALSE,
            user_id {d.bigint} REFERENCES users (id) ON DELETE CASCADE,
            login_name VARCHAR(64),
            server VARCHAR(2048),
            granted_at {d.bigint})""",
        "CREATE INDEX login_flows_created ON login_flows (created_at)",
        f"""CREATE TABLE login_sessions (
            key_hash CHAR(64) PRIMARY KEY,
            data TEXT NOT NULL,
            user_id {d.bigint} REFERENCES users (id) ON DELETE CASCADE,
            created_at {d.bigint} NOT NULL)""",
        "CREATE INDEX login_sessions_created ON login_sessions (created_at)",
    )


MIGRATIONS = [Migration(1, "login flows and login web sessions", _login)]
