"""Talk sessions (presence in a room) and cookie sessions (a client's Talk state)."""

from __future__ import annotations

import peewee

from conversations.models import Attendee
from ocs.db import BaseModel


class TalkSession(BaseModel):
    """One client's presence in one room; ``session_id`` is a 255-character bearer string."""

    id = peewee.AutoField()
    attendee = peewee.ForeignKeyField(Attendee, column_name="attendee_id", on_delete="CASCADE")
    session_id = peewee.CharField(max_length=512, unique=True)
    in_call = peewee.IntegerField(default=0)
    last_ping = peewee.BigIntegerField()
    state = peewee.SmallIntegerField(default=1)
    created_at = peewee.BigIntegerField()

    class Meta:
        table_name = "talk_sessions"


class WebSession(BaseModel):
    """The server side of the ``ocs_talk_session`` cookie, keyed by the sha256 of its value."""

    key_hash = peewee.CharField(max_length=64, primary_key=True)
    principal = peewee.CharField(max_length=255)
    data = peewee.TextField(default="{}")
    created_at = peewee.BigIntegerField()
    last_used = peewee.BigIntegerField()

    class Meta:
        table_name = "web_sessions"
