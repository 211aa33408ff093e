"""Pure rules shared by services and serializers: permissions, notification levels, views."""

from __future__ import annotations

import json

from conversations.constants import (
    BUILTIN_DEFAULT_PERMISSIONS,
    GROUP_OR_PUBLIC,
    MAX_DEFAULT_PERMISSIONS,
    MODERATOR_TYPES,
    ONE_TO_ONE_TYPES,
    ActorType,
    NotificationLevel,
    Permission,
    RoomType,
)


def effective_permissions(room, attendee, server_default: int) -> int:
    """``conversations.md`` §12: moderators 510, else attendee, room, server or built-in default."""
    if attendee.participant_type in MODERATOR_TYPES:
        return MAX_DEFAULT_PERMISSIONS
    if attendee.permissions:
        return attendee.permissions
    if room.default_permissions:
        return room.default_permissions
    if server_default:
        return server_default
    return BUILTIN_DEFAULT_PERMISSIONS


def resolved_notification_level(room, attendee, group_default: int) -> int:
    """``conversations.md`` §3.3."""
    if attendee.notification_level:
        return attendee.notification_level
    if attendee.actor_type in (ActorType.GUESTS, ActorType.EMAILS):
        return NotificationLevel.NEVER
    if room.type in ONE_TO_ONE_TYPES:
        return NotificationLevel.ALWAYS
    return group_default


def lobby_active(room, lobby_feature_on: bool) -> bool:
    return lobby_feature_on and room.lobby_state == 1


def lobby_blocks(room, attendee, permissions: int, lobby_feature_on: bool) -> bool:
    """A non-moderator without the ignore-lobby bit waits while the lobby is on (§13)."""
    return (
        lobby_active(room, lobby_feature_on)
        and attendee.participant_type not in MODERATOR_TYPES
        and not permissions & Permission.LOBBY_IGNORE
    )


def listable_for_user(room, listable_feature_on: bool) -> bool:
    """``Manager::isRoomListableByUser``: group/public rooms with a listable scope (never anonymous)."""
    return listable_feature_on and room.type in GROUP_OR_PUBLIC and room.listable >= 1


def is_one_to_one(room) -> bool:
    return room.type in ONE_TO_ONE_TYPES


def one_to_one_partner(room, uid: str) -> str | None:
    """The other user of a one-to-one room, from its canonical key."""
    if not room.one_to_one_key:
        return room.name or None
    pair = json.loads(room.one_to_one_key)
    others = [u for u in pair if u != uid]
    return others[0] if others else pair[0]


def one_to_one_pair(room) -> list[str]:
    """Both user ids of a one-to-one room (empty for other rooms)."""
    if not room.one_to_one_key:
        return []
    return list(json.loads(room.one_to_one_key))


def one_to_one_key(a: str, b: str) -> str:
    """The canonical pair key: both user ids sorted by byte value, as a JSON array."""
    pair = sorted([a, b], key=lambda s: s.encode("utf-8"))
    return json.dumps(pair, separators=(",", ":"), ensure_ascii=False)


def is_note_to_self(room) -> bool:
    return room.type == RoomType.NOTE_TO_SELF
