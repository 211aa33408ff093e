"""Account models: users, groups and memberships."""

from __future__ import annotations

import peewee

from ocs.db import BaseModel


class User(BaseModel):
    """A local account. ``uid`` is canonical; ``uid_lower`` makes logins case-insensitive."""

    id = peewee.AutoField()
    uid = peewee.CharField(max_length=64, unique=True)
    uid_lower = peewee.CharField(max_length=64, unique=True)
    display_name = peewee.CharField(max_length=255, default="")
    email = peewee.CharField(max_length=254, null=True)
    password_hash = peewee.TextField(null=True)
    credential_epoch = peewee.IntegerField(default=0)
    last_login = peewee.BigIntegerField(default=0)
    created_at = peewee.BigIntegerField()

    class Meta:
        table_name = "users"

    @property
    def shown_name(self) -> str:
        """The display name, or the id when none is set."""
        return self.display_name or self.uid


class Group(BaseModel):
    gid = peewee.CharField(primary_key=True, max_length=64)
    display_name = peewee.CharField(max_length=255, default="")

    class Meta:
        table_name = "user_groups"

    @property
    def shown_name(self) -> str:
        return self.display_name or self.gid


class GroupMember(BaseModel):
    group = peewee.ForeignKeyField(
        Group, column_name="gid", field="gid", object_id_name="group_id", on_delete="CASCADE"
    )
    user = peewee.ForeignKeyField(
        User, column_name="uid", field="uid", object_id_name="user_id", on_delete="CASCADE"
    )

    class Meta:
        table_name = "group_members"
        primary_key = peewee.CompositeKey("group", "user")
