"""Schema migrations of the conversations component."""

from __future__ import annotations

from ocs.db import Dialect, Migration


def _rooms(d: Dialect) -> None:
    d.run(
        f"""CREATE TABLE rooms (
            id {d.pk},
            token VARCHAR(32) NOT NULL UNIQUE,
            type SMALLINT NOT NULL,
            name VARCHAR(1024) NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            password_hash TEXT,
            read_only SMALLINT NOT NULL DEFAULT 0,
            listable SMALLINT NOT NULL DEFAULT 0,
            lobby_state SMALLINT NOT NULL DEFAULT 0,
            lobby_timer {d.bigint},
            default_permissions INTEGER NOT NULL DEFAULT 0,
            message_expiration {d.bigint} NOT NULL DEFAULT 0,
            mention_permissions SMALLINT NOT NULL DEFAULT 0,
            object_type VARCHAR(64) NOT NULL DEFAULT '',
            object_id VARCHAR(64) NOT NULL DEFAULT '',
            last_activity {d.bigint} NOT NULL,
            created_at {d.bigint} NOT NULL,
            avatar_kind VARCHAR(16) NOT NULL DEFAULT 'default',
            avatar_version INTEGER NOT NULL DEFAULT 0,
            avatar_emoji VARCHAR(64) NOT NULL DEFAULT '',
            avatar_color VARCHAR(6) NOT NULL DEFAULT '',
            one_to_one_key VARCHAR(300) UNIQUE,
            note_to_self_owner VARCHAR(64) UNIQUE)""",
        "CREATE INDEX rooms_listable ON rooms (listable) WHERE listable > 0",
        f"""CREATE TABLE attendees (
            id {d.pk},
            room_id {d.bigint} NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
            actor_type VARCHAR(32) NOT NULL,
            actor_id VARCHAR(255) NOT NULL,
            display_name VARCHAR(255) NOT NULL DEFAULT '',
            participant_type SMALLINT NOT NULL,
            permissions INTEGER NOT NULL DEFAULT 0,
            favorite BOOLEAN NOT NULL DEFAULT FALSE,
            archived BOOLEAN NOT NULL DEFAULT FALSE,
            important BOOLEAN NOT NULL DEFAULT FALSE,
            sensitive BOOLEAN NOT NULL DEFAULT FALSE,
            notification_level SMALLINT NOT NULL DEFAULT 0,
            notification_calls SMALLINT NOT NULL DEFAULT 1,
            last_attendee_activity {d.bigint} NOT NULL DEFAULT 0,
            invited_address VARCHAR(254),
            created_at {d.bigint} NOT NULL,
            UNIQUE (room_id, actor_type, actor_id))""",
        "CREATE INDEX attendees_actor ON attendees (actor_type, actor_id)",
        f"""CREATE TABLE room_avatars (
            room_id {d.bigint} PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
            content_type VARCHAR(32) NOT NULL,
            data {d.blob} NOT NULL)""",
    )


def _chat_state(d: Dialect) -> None:
    """Per-room last message and per-attendee read and mention markers (``chat.md`` §2)."""
    d.run(
        f"ALTER TABLE rooms ADD COLUMN last_message_id {d.bigint}",
        f"ALTER TABLE attendees ADD COLUMN last_read_message {d.bigint} NOT NULL DEFAULT 0",
        f"ALTER TABLE attendees ADD COLUMN last_mention_message {d.bigint} NOT NULL DEFAULT 0",
        f"ALTER TABLE attendees ADD COLUMN last_mention_direct {d.bigint} NOT NULL DEFAULT 0",
        "ALTER TABLE attendees ADD COLUMN read_privacy SMALLINT NOT NULL DEFAULT 0",
        "CREATE INDEX attendees_common_read ON attendees (room_id, actor_type, read_privacy, last_read_message)",
    )


def _room_list_generations(d: Dialect) -> None:
    """Per-user generation of the room list, bumped by every write that changes a room object."""
    d.run(
        f"""CREATE TABLE room_list_generations (
            uid VARCHAR(255) PRIMARY KEY,
            generation {d.bigint} NOT NULL DEFAULT 0)"""
    )


MIGRATIONS = [
    Migration(1, "rooms, attendees and room avatars", _rooms),
    Migration(2, "last message of rooms, read and mention markers of attendees", _chat_state),
    Migration(3, "room-list generations of users", _room_list_generations),
]
