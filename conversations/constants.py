"""Talk's integer codes (``conversations.md`` §5)."""

from __future__ import annotations

from enum import IntEnum


class RoomType(IntEnum):
    ONE_TO_ONE = 1
    GROUP = 2
    PUBLIC = 3
    CHANGELOG = 4
    FORMER_ONE_TO_ONE = 5
    NOTE_TO_SELF = 6


class ParticipantType(IntEnum):
    OWNER = 1
    MODERATOR = 2
    USER = 3
    GUEST = 4
    USER_SELF_JOINED = 5
    GUEST_MODERATOR = 6


class ActorType:
    USERS = "users"
    GROUPS = "groups"
    GUESTS = "guests"
    EMAILS = "emails"


class NotificationLevel(IntEnum):
    DEFAULT = 0
    ALWAYS = 1
    MENTION = 2
    NEVER = 3


class Listable(IntEnum):
    NONE = 0
    USERS = 1
    ALL = 2


class Permission(IntEnum):
    DEFAULT = 0
    CUSTOM = 1
    CALL_START = 2
    CALL_JOIN = 4
    LOBBY_IGNORE = 8
    PUBLISH_AUDIO = 16
    PUBLISH_VIDEO = 32
    PUBLISH_SCREEN = 64
    CHAT = 128
    REACT = 256


MAX_DEFAULT_PERMISSIONS = 510
MAX_CUSTOM_PERMISSIONS = 511
BUILTIN_DEFAULT_PERMISSIONS = 502

MODERATOR_TYPES = frozenset(
    {ParticipantType.OWNER, ParticipantType.MODERATOR, ParticipantType.GUEST_MODERATOR}
)
LOGGED_IN_MODERATOR_TYPES = frozenset({ParticipantType.OWNER, ParticipantType.MODERATOR})
ONE_TO_ONE_TYPES = frozenset({RoomType.ONE_TO_ONE, RoomType.FORMER_ONE_TO_ONE})
GROUP_OR_PUBLIC = frozenset({RoomType.GROUP, RoomType.PUBLIC})

OBJECT_TYPES_ON_CREATE = frozenset({"", "event", "extended_conversation", "instant_meeting"})
NOTE_TO_SELF_OBJECT_TYPE = "note_to_self"
NOTE_TO_SELF_NAME = "Note to self"
NOTE_TO_SELF_DESCRIPTION = "A place for your private notes, thoughts and ideas"

MAX_NAME_LENGTH = 255
MAX_OBJECT_LENGTH = 64
MAX_ROOM_PASSWORD = 1024
MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z

AVATAR_DEFAULT = "default"
AVATAR_CUSTOM = "custom"
AVATAR_EMOJI = "emoji"
