"""Pending Login Flow v2 flows and the short-lived web sessions of the login pages."""

from __future__ import annotations

import peewee

from ocs.accounts.models import User
from ocs.db import BaseModel


class LoginFlow(BaseModel):
    """One Login Flow v2 (login §8.1): only hashes of its two tokens are stored."""

    id = peewee.AutoField()
    poll_token_hash = peewee.CharField(max_length=64, unique=True)
    login_token_hash = peewee.CharField(max_length=64, unique=True)
    client_name = peewee.CharField(max_length=128, default="")
    created_at = peewee.BigIntegerField()
    started = peewee.BooleanField(default=False)
    user = peewee.ForeignKeyField(User, column_name="user_id", null=True, on_delete="CASCADE")
    login_name = peewee.CharField(max_length=64, null=True)
    server = peewee.CharField(max_length=2048, null=True)
    granted_at = peewee.BigIntegerField(null=True)

    class Meta:
        table_name = "login_flows"


class LoginSession(BaseModel):
    """The login pages' own session (login §8.4), keyed by sha256 of the cookie value."""

    key_hash = peewee.CharField(max_length=64, primary_key=True)
    data = peewee.TextField()
    user = peewee.ForeignKeyField(User, column_name="user_id", null=True, on_delete="CASCADE")
    created_at = peewee.BigIntegerField()

    class Meta:
        table_name = "login_sessions"
