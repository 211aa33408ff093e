"""Helpers for Talk API tests."""

from __future__ import annotations

from conversations.models import Attendee, Room

VERSIONS = ("v1", "v2", "v3", "v4")


def api(version: str = "v4") -> str:
    return f"/apps/spreed/api/{version}"


def create(client, user: str, version: str = "v4", status: int = 201, **params) -> dict:
    """Create a room through the API and return its data."""
    params.setdefault("roomType", 2)
    if params["roomType"] != 1:
        params.setdefault("roomName", "Room")
    r = client.ocs("POST", api(version) + "/room", user=user, json_body=params)
    assert r.status_int == status, r.text
    return client.data(r)


def set_type(token: str, uid: str, participant_type: int) -> None:
    """Test setup: give an attendee a participant type (promotion routes come with participants)."""
    room = Room.get(Room.token == token)
    Attendee.update(participant_type=participant_type).where(
        (Attendee.room == room.id) & (Attendee.actor_type == "users") & (Attendee.actor_id == uid)
    ).execute()


def snapshot(token: str):
    """Everything a denied request must leave unchanged: the room row, its attendees and its chat."""
    from chat.models import ChatMessage

    room = Room.get_or_none(Room.token == token)
    if room is None:
        return None
    attendees = [a.__data__ for a in Attendee.select().where(Attendee.room == room.id).order_by(Attendee.id)]
    chat = [
        m.__data__ for m in ChatMessage.select().where(ChatMessage.room == room.id).order_by(ChatMessage.id)
    ]
    return room.__data__, attendees, chat


def meta(response) -> dict:
    return response.json["ocs"]["meta"]
