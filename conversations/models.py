"""Conversation models: rooms and their attendees (membership)."""

from __future__ import annotations

import peewee

from ocs.db import BaseModel


class Room(BaseModel):
    """A conversation. ``one_to_one_key`` and ``note_to_self_owner`` make those rooms unique."""

    id = peewee.AutoField()
    token = peewee.CharField(max_length=32, unique=True)
    type = peewee.SmallIntegerField()
    name = peewee.CharField(max_length=1024, default="")
    description = peewee.TextField(default="")
    password_hash = peewee.TextField(null=True)
    read_only = peewee.SmallIntegerField(default=0)
    listable = peewee.SmallIntegerField(default=0)
    lobby_state = peewee.SmallIntegerField(default=0)
    lobby_timer = peewee.BigIntegerField(null=True)
    default_permissions = peewee.IntegerField(default=0)
    message_expiration = peewee.BigIntegerField(default=0)
    mention_permissions = peewee.SmallIntegerField(default=0)
    object_type = peewee.CharField(max_length=64, default="")
    object_id = peewee.CharField(max_length=64, default="")
    last_activity = peewee.BigIntegerField()
    created_at = peewee.BigIntegerField()
    avatar_kind = peewee.CharField(max_length=16, default="default")
    avatar_version = peewee.IntegerField(default=0)
    avatar_emoji = peewee.CharField(max_length=64, default="")
    avatar_color = peewee.CharField(max_length=6, default="")
    one_to_one_key = peewee.CharField(max_length=300, null=True, unique=True)
    note_to_self_owner = peewee.CharField(max_length=64, null=True, unique=True)
    last_message_id = peewee.BigIntegerField(null=True)  # the newest chat row that counts as one

    class Meta:
        table_name = "rooms"


class Attendee(BaseModel):
    """An actor's membership in a room; unique per (room, actor type, actor id)."""

    id = peewee.AutoField()
    room = peewee.ForeignKeyField(Room, column_name="room_id", on_delete="CASCADE", index=False)
    actor_type = peewee.CharField(max_length=32)
    actor_id = peewee.CharField(max_length=255)
    display_name = peewee.CharField(max_length=255, default="")
    participant_type = peewee.SmallIntegerField()
    permissions = peewee.IntegerField(default=0)
    favorite = peewee.BooleanField(default=False)
    archived = peewee.BooleanField(default=False)
    important = peewee.BooleanField(default=False)
    sensitive = peewee.BooleanField(default=False)
    notification_level = peewee.SmallIntegerField(default=0)
    notification_calls = peewee.SmallIntegerField(default=1)
    last_attendee_activity = peewee.BigIntegerField(default=0)
    invited_address = peewee.CharField(max_length=254, null=True)
    created_at = peewee.BigIntegerField()
    last_read_message = peewee.BigIntegerField(default=0)
    last_mention_message = peewee.BigIntegerField(default=0)
    last_mention_direct = peewee.BigIntegerField(default=0)
    read_privacy = peewee.SmallIntegerField(default=0)

    class Meta:
        table_name = "attendees"


class RoomAvatar(BaseModel):
    """Uploaded avatar bytes of a room (custom avatars only)."""

    room = peewee.ForeignKeyField(Room, primary_key=True, column_name="room_id", on_delete="CASCADE")
    content_type = peewee.CharField(max_length=32)
    data = peewee.BlobField()

    class Meta:
        table_name = "room_avatars"
