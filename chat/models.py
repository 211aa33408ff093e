"""Chat rows (``chat.md`` §2, C4): messages, system messages, deleted messages and reactions."""

from __future__ import annotations

import peewee

from conversations.models import Room
from ocs.db import BaseModel


class ChatMessage(BaseModel):
    """One row of a room's chat stream; ids come from one sequence for the whole server."""

    id = peewee.AutoField()
    room = peewee.ForeignKeyField(Room, column_name="room_id", on_delete="CASCADE", index=False)
    actor_type = peewee.CharField(max_length=32)
    actor_id = peewee.CharField(max_length=255)
    verb = peewee.CharField(max_length=32)
    message = peewee.TextField()
    parent_id = peewee.BigIntegerField(null=True)
    topmost_parent_id = peewee.BigIntegerField(null=True)
    reference_id = peewee.CharField(max_length=64, null=True)
    created_at = peewee.BigIntegerField()
    expire_at = peewee.BigIntegerField(null=True)
    meta = peewee.TextField(default="{}")
    reactions = peewee.TextField(default="{}")

    class Meta:
        table_name = "chat_messages"
