"""Schema migrations of the participants component."""

from __future__ import annotations

from ocs.db import Dialect, Migration


def _sessions(d: Dialect) -> None:
    d.run(
        f"""CREATE TABLE talk_sessions (
            id {d.pk},
            attendee_id {d.bigint} NOT NULL REFERENCES attendees (id) ON DELETE CASCADE,
            session_id VARCHAR(512) NOT NULL UNIQUE,
            in_call INTEGER NOT NULL DEFAULT 0,
            last_ping {d.bigint} NOT NULL,
            state SMALLINT NOT NULL DEFAULT 1,
            created_at {d.bigint} NOT NULL)""",
        "CREATE INDEX talk_sessions_attendee ON talk_sessions (attendee_id)",
        "CREATE INDEX talk_sessions_last_ping ON talk_sessions (last_ping)",
        f"""CREATE TABLE web_sessions (
            key_hash VARCHAR(64) PRIMARY KEY,
            principal VARCHAR(255) NOT NULL,
            data TEXT NOT NULL,
            created_at {d.bigint} NOT NULL,
            last_used {d.bigint} NOT NULL)""",
        "CREATE INDEX web_sessions_last_used ON web_sessions (last_used)",
    )


MIGRATIONS = [Migration(1, "Talk sessions and cookie sessions", _sessions)]
