"""The participant object per Talk API version (``participants.md`` §1)."""

from __future__ import annotations

from conversations.constants import MODERATOR_TYPES, ActorType


def display_name(attendee) -> str:
    if attendee.actor_type == ActorType.USERS:
        return attendee.display_name or attendee.actor_id
    return attendee.display_name


class ParticipantSerializer:
    def __init__(self, platform, room_serializer):
        self.room_serializer = room_serializer
        self.permissions_on = platform.registry.enabled("conversation-permissions")

    def serialize(self, room, attendee, sessions: list, version: str, caller) -> dict:
        last_ping = max((s.last_ping for s in sessions), default=0)
        if version == "v4":
            data = {
                "roomToken": room.token,
                "inCall": 0,
                "lastPing": last_ping,
                "sessionIds": [s.session_id for s in sessions],
                "participantType": attendee.participant_type,
                "attendeeId": attendee.id,
                "actorId": attendee.actor_id,
                "actorType": attendee.actor_type,
                "displayName": display_name(attendee),
            }
            if self.permissions_on:
                data["permissions"] = self.room_serializer.permissions_of(room, attendee)
                data["attendeePermissions"] = attendee.permissions
            data.update({"attendeePin": "", "phoneNumber": "", "callId": ""})
            if (
                attendee.actor_type == ActorType.EMAILS
                and caller is not None
                and (caller.participant_type in MODERATOR_TYPES or caller.id == attendee.id)
            ):
                data["invitedActorId"] = attendee.invited_address or ""
            return data
        latest = max(sessions, key=lambda s: s.last_ping).session_id if sessions else "0"
        if version == "v3":
            return {
                "inCall": 0,
                "lastPing": last_ping,
                "sessionId": latest,
                "participantType": attendee.participant_type,
                "attendeeId": attendee.id,
                "actorId": attendee.actor_id,
                "actorType": attendee.actor_type,
                "displayName": display_name(attendee),
                "attendeePin": "",
            }
        return {
            "inCall": 0,
            "lastPing": last_ping,
            "sessionId": latest,
            "participantType": attendee.participant_type,
            "userId": attendee.actor_id if attendee.actor_type == ActorType.USERS else "",
            "displayName": display_name(attendee),
        }

    def listable(self, attendee, version: str) -> bool:
        """v1 and v2 list only users and guests."""
        return version in ("v3", "v4") or attendee.actor_type in (ActorType.USERS, ActorType.GUESTS)
