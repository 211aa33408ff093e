"""The room object on the wire, per Talk API version (``conversations.md`` §3–§4).

Values are computed once (v4 rules) and every version picks its keys; gated fields are removed
when their feature is off (D14). camelCase names live only here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from conversations import rules
from conversations.constants import (
    AVATAR_CUSTOM,
    AVATAR_DEFAULT,
    AVATAR_EMOJI,
    ONE_TO_ONE_TYPES,
    ActorType,
    NotificationLevel,
    ParticipantType,
    RoomType,
)

PARTICIPANT = "participant"
LOBBY = "lobby"
LISTABLE = "listable"
PUBLIC = "public"

# Room fields removed when their feature is switched off (capabilities.md §3).
GATED_FIELDS = {
    "isFavorite": "favorites",
    "notificationLevel": "notification-levels",
    "notificationCalls": "notification-calls",
    "readOnly": "read-only-rooms",
    "lobbyState": "webinary-lobby",
    "lobbyTimer": "webinary-lobby",
    "description": "room-description",
    "listable": "listable-rooms",
    "permissions": "conversation-permissions",
    "attendeePermissions": "conversation-permissions",
    "callPermissions": "conversation-permissions",
    "defaultPermissions": "conversation-permissions",
    "messageExpiration": "message-expiration",
    "mentionPermissions": "mention-permissions",
    "isArchived": "archived-conversations-v2",
    "isImportant": "important-conversations",
    "isSensitive": "sensitive-conversations",
    "avatarVersion": "avatar",
    "isCustomAvatar": "avatar",
}

V2_KEYS = (
    "id",
    "token",
    "type",
    "name",
    "displayName",
    "objectType",
    "objectId",
    "participantType",
    "participantFlags",
    "readOnly",
    "hasPassword",
    "hasCall",
    "canStartCall",
    "lastActivity",
    "lastReadMessage",
    "unreadMessages",
    "unreadMention",
    "isFavorite",
    "canLeaveConversation",
    "canDeleteConversation",
    "notificationLevel",
    "lobbyState",
    "lobbyTimer",
    "lastPing",
    "sessionId",
    "guestList",
    "lastMessage",
)
V3_EXTRA = (
    "sipEnabled",
    "actorType",
    "actorId",
    "attendeeId",
    "canEnableSIP",
    "attendeePin",
    "description",
    "lastCommonReadMessage",
    "listable",
)
V1_HEAD = ("id", "token", "type", "name", "displayName", "objectType", "objectId", "participantType")
V1_MIDDLE = (
    "hasPassword",
    "hasCall",
    "canStartCall",
    "lastActivity",
    "lastReadMessage",
    "unreadMessages",
    "unreadMention",
    "isFavorite",
    "notificationLevel",
    "lobbyState",
    "lobbyTimer",
    "lastPing",
    "sessionId",
)

LISTABLE_REAL = (
    "name",
    "displayName",
    "description",
    "objectType",
    "objectId",
    "readOnly",
    "lastActivity",
    "lobbyState",
    "lobbyTimer",
    "listable",
)
PUBLIC_REAL = ("id", "token", "type", "hasPassword", "avatarVersion", "isCustomAvatar", "recordingConsent")


# The non-participant values of every v4 field, in output order (conversations.md §3.1).
DEFAULTS = {
    "id": 0,
    "token": "",
    "type": 0,
    "name": "",
    "displayName": "",
    "objectType": "",
    "objectId": "",
    "participantType": ParticipantType.GUEST.value,
    "participantFlags": 0,
    "readOnly": 0,
    "hasPassword": False,
    "hasCall": False,
    "callStartTime": 0,
    "callRecording": 0,
    "canStartCall": False,
    "lastActivity": 0,
    "lastReadMessage": 0,
    "unreadMessages": 0,
    "unreadMention": False,
    "unreadMentionDirect": False,
    "isFavorite": False,
    "canLeaveConversation": False,
    "canDeleteConversation": False,
    "notificationLevel": NotificationLevel.NEVER.value,
    "notificationCalls": 0,
    "lobbyState": 0,
    "lobbyTimer": 0,
    "lastPing": 0,
    "sessionId": "0",
    "sipEnabled": 0,
    "actorType": "",
    "actorId": "",
    "attendeeId": 0,
    "permissions": 1,
    "attendeePermissions": 1,
    "callPermissions": 1,
    "defaultPermissions": 1,
    "canEnableSIP": False,
    "attendeePin": "",
    "description": "",
    "lastCommonReadMessage": 0,
    "listable": 0,
    "callFlag": 0,
    "messageExpiration": 0,
    "avatarVersion": "",
    "isCustomAvatar": False,
    "breakoutRoomMode": 0,
    "breakoutRoomStatus": 0,
    "recordingConsent": 0,
    "mentionPermissions": 0,
    "liveTranscriptionLanguageId": "",
    "lastPinnedId": 0,
    "hiddenPinnedId": 0,
    "isArchived": False,
    "isImportant": False,
    "isSensitive": False,
    "tagIds": (),
    "hasScheduledMessages": 0,
    "attributes": 0,
    "lastMessage": (),
}


@dataclass
class RoomView:
    """A room as one caller sees it: its attendee (if any), Talk session and the view kind."""

    room: object
    attendee: object | None
    kind: str
    partner_name: str | None = None  # one-to-one: the other user's current display name
    partner_id: str | None = None  # one-to-one: the other user's id (the room's ``name``)
    session_id: str = "0"
    last_ping: int = 0
    members: list = field(default_factory=list)  # v1: [(uid, name, type, session_id, last_ping)]
    live_guests: int = 0
    chat: dict | None = None  # chat fields (lastMessage, unread counts …) when chat is wired


def avatar_version(room, display_name: str) -> str:
    """First 8 hex characters of md5 over token#kind#version (+ the initial for defaults)."""
    material = f"{room.token}#{room.avatar_kind}#{room.avatar_version}"
    if room.avatar_kind == AVATAR_DEFAULT:
        material += "#" + (display_name[:1] if display_name else "")
    return hashlib.md5(material.encode("utf-8")).hexdigest()[:8]  # noqa: S324 - a cache key


def display_name_of(room, partner_name: str | None) -> str:
    if room.type == RoomType.ONE_TO_ONE:
        return partner_name or ""
    return room.name


class RoomSerializer:
    """Builds room objects; holds the configuration that shapes them."""

    def __init__(self, platform):
        self.registry = platform.registry
        talk = platform.config["talk"]
        self.group_notification = talk["default_group_notification"]
        self.server_permissions = talk["default_permissions"]
        self.delete_one_to_one = talk["delete_one_to_one_conversations"]
        self.gated_off = {
            name for name, feature in GATED_FIELDS.items() if not self.registry.enabled(feature)
        }
        # the registry is complete once features are wired; these are read for every room
        self._lobby_on = self.registry.enabled("webinary-lobby")
        self._listable_on = self.registry.enabled("listable-rooms")
        self._chat_on = None

    def lobby_on(self) -> bool:
        return self._lobby_on

    def chat_on(self) -> bool:
        """Whether chat is wired and on (read once: the registry is complete after wiring)."""
        if self._chat_on is None:
            self._chat_on = self.registry.enabled("chat-v2")
        return self._chat_on

    def permissions_of(self, room, attendee) -> int:
        return rules.effective_permissions(room, attendee, self.server_permissions)

    def view_kind(self, room, attendee, logged_in: bool) -> str:
        if attendee is not None:
            permissions = self.permissions_of(room, attendee)
            return LOBBY if rules.lobby_blocks(room, attendee, permissions, self.lobby_on()) else PARTICIPANT
        if logged_in and rules.listable_for_user(room, self._listable_on):
            return LISTABLE
        return PUBLIC

    # --- v4 ---------------------------------------------------------------------------------

    def _defaults(self, room, display_name: str) -> dict:
        data = dict(DEFAULTS)
        data["id"] = room.id
        data["token"] = room.token
        data["type"] = room.type
        data["hasPassword"] = bool(room.password_hash)
        data["avatarVersion"] = avatar_version(room, display_name)
        data["isCustomAvatar"] = room.avatar_kind in (AVATAR_CUSTOM, AVATAR_EMOJI)
        data["tagIds"] = []
        data["lastMessage"] = []
        return data

    def _room_values(self, room, display_name: str) -> dict:
        lobby_state = room.lobby_state if self.lobby_on() else 0
        return {
            "name": room.name,
            "displayName": display_name,
            "objectType": room.object_type,
            "objectId": room.object_id,
            "readOnly": room.read_only,
            "lastActivity": room.last_activity,
            "lobbyState": lobby_state,
            "lobbyTimer": (room.lobby_timer or 0) if lobby_state else 0,
            "description": room.description,
            "listable": room.listable,
        }

    def v4(self, view: RoomView) -> dict:
        room = view.room
        name_shown = display_name_of(room, view.partner_name)
        data = self._defaults(room, name_shown)
        if view.kind in (PUBLIC, LISTABLE) and self.chat_on():
            del data["lastMessage"]  # C13: non-participant views show no message
        if view.kind == PUBLIC:
            return data
        values = self._room_values(room, name_shown)
        if view.kind == LISTABLE:
            values["displayName"] = room.name
            data.update(values)
            return data
        data.update(values)
        attendee = view.attendee
        if room.type == RoomType.ONE_TO_ONE:
            data["name"] = view.partner_id or ""
        is_user = attendee.actor_type == ActorType.USERS
        one_to_one = room.type in ONE_TO_ONE_TYPES
        if is_user:
            can_leave = room.type != RoomType.NOTE_TO_SELF and not (self.delete_one_to_one and one_to_one)
            can_delete = attendee.participant_type in (ParticipantType.OWNER, ParticipantType.MODERATOR) and (
                not one_to_one or self.delete_one_to_one
            )
        else:
            can_leave = can_delete = False
        permissions = self.permissions_of(room, attendee)
        data.update(
            {
                "participantType": attendee.participant_type,
                "isFavorite": bool(attendee.favorite),
                "canLeaveConversation": can_leave,
                "canDeleteConversation": can_delete,
                "notificationLevel": rules.resolved_notification_level(
                    room, attendee, self.group_notification
                ),
                "notificationCalls": attendee.notification_calls,
                "lastPing": view.last_ping,
                "sessionId": view.session_id,
                "actorType": attendee.actor_type,
                "actorId": attendee.actor_id,
                "attendeeId": attendee.id,
                "permissions": permissions,
                "attendeePermissions": attendee.permissions,
                "callPermissions": 0,
                "defaultPermissions": room.default_permissions,
                "messageExpiration": room.message_expiration,
                "mentionPermissions": room.mention_permissions,
                "isArchived": bool(attendee.archived),
                "isImportant": bool(attendee.important),
                "isSensitive": bool(attendee.sensitive),
            }
        )
        if view.chat:
            data.update(view.chat)
            if view.kind == LOBBY or attendee.sensitive:
                del data["lastMessage"]  # C13: omitted where Talk omits it
        return data

    # --- per version ------------------------------------------------------------------------

    def serialize(self, view: RoomView, version: str, include_last_message: bool = True) -> dict:
        full = self.v4(view)
        if version == "v4":
            result = full
        elif version == "v3":
            result = {k: full.get(k, "") for k in V2_KEYS + V3_EXTRA}
        elif version == "v2":
            result = {k: full.get(k, "") for k in V2_KEYS}
        else:
            result = self._v1(view, full)
        for name in self.gated_off:
            result.pop(name, None)
        if not include_last_message or "lastMessage" not in full:
            result.pop("lastMessage", None)
        return result

    def _v1(self, view: RoomView, full: dict) -> dict:
        result = {k: full[k] for k in V1_HEAD}
        result["participantInCall"] = False
        result["participantFlags"] = 0
        result["readOnly"] = full["readOnly"]
        result["count"] = 0
        for k in V1_MIDDLE:
            result[k] = full[k]
        participants = {}
        if view.kind == PARTICIPANT:
            ordered = sorted(view.members, key=lambda m: (-m[4], m[5]))
            for uid, name, ptype, session_id, _ping, _aid in ordered:
                participants[uid] = {"name": name, "type": ptype, "call": 0, "sessionId": session_id}
        result["participants"] = participants or []
        result["numGuests"] = view.live_guests if view.kind == PARTICIPANT else 0
        result["guestList"] = ""
        if "lastMessage" in full:
            result["lastMessage"] = full["lastMessage"]
        return result
