"""Schema migrations of the chat component (``chat.md`` §2, §12)."""

from __future__ import annotations

from ocs.db import Dialect, Migration


def _chat(d: Dialect) -> None:
    d.run(
        f"""CREATE TABLE chat_messages (
            id {d.pk},
            room_id {d.bigint} NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
            actor_type VARCHAR(32) NOT NULL,
            actor_id VARCHAR(255) NOT NULL,
            verb VARCHAR(32) NOT NULL,
            message TEXT NOT NULL,
            parent_id {d.bigint},
            topmost_parent_id {d.bigint},
            reference_id VARCHAR(64),
            created_at {d.bigint} NOT NULL,
            expire_at {d.bigint},
            meta TEXT NOT NULL DEFAULT '{{}}',
            reactions TEXT NOT NULL DEFAULT '{{}}')""",
        "CREATE INDEX chat_room_id ON chat_messages (room_id, id)",
        "CREATE INDEX chat_room_verb ON chat_messages (room_id, verb, id)",
        "CREATE INDEX chat_parent ON chat_messages (parent_id) WHERE parent_id IS NOT NULL",
        "CREATE INDEX chat_expire ON chat_messages (expire_at) WHERE expire_at IS NOT NULL",
        # one live reaction per actor, message and emoji: concurrent duplicates collide here
        "CREATE UNIQUE INDEX chat_reaction_once ON chat_messages (parent_id, actor_type, actor_id, message)"
        " WHERE verb = 'reaction'",
    )


MIGRATIONS = [Migration(1, "chat rows", _chat)]
