"""Who may act on a room: room resolution and role checks, decided in this one place.

Every token-addressed route loads its room through :func:`authorize`, which resolves the room
for the caller (``conversations.md`` §1.1), applies the automatic lobby end, and checks the
role the route needs. Unknown tokens and rooms the caller may not see give the same 404 and
register the same ``talkRoomToken`` attempt (``security.md`` §1.2 invariant 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from conversations import listcache, rules
from conversations.constants import (
    LOGGED_IN_MODERATOR_TYPES,
    MODERATOR_TYPES,
    ActorType,
    RoomType,
)
from conversations.events import actor_of
from conversations.models import Attendee, Room
from ocs import throttle
from ocs.db import write_tx
from ocs.errors import Forbidden, NotFound

TOKEN_SYNTAX = re.compile(r"^[a-z0-9]{4,30}$")


class Role(Enum):
    """What a route needs from the caller in the room (``conversations.md`` §1.1 Role column)."""

    NONE = "—"  # room must exist for the caller (public, attendee, listable, session)
    PARTICIPANT = "P"
    LOGGED_IN_PARTICIPANT = "LP"
    MODERATOR = "M"
    LOGGED_IN_MODERATOR = "LM"


@dataclass
class RoomContext:
    """The room of a request and the caller's place in it."""

    room: Room
    attendee: Attendee | None
    user: object | None
    session: object | None = None  # the caller's Talk session for this room, if any

    @property
    def is_moderator(self) -> bool:
        return self.attendee is not None and self.attendee.participant_type in MODERATOR_TYPES


def _session_attendee(platform, req, room):
    """The Talk session (and its attendee) that the caller's cookie session holds for ``room``."""
    lookup = getattr(platform, "session_lookup", None)
    if lookup is None:
        return None, None
    return lookup(req, room)


def expire_lobby(room: Room, now: int, events=None, actor=("guests", "system")) -> None:
    """A lobby whose timer has passed is switched off before the request is evaluated (§10.10);
    the request that notices it posts ``lobby_timer_reached`` (once, whoever races)."""
    if room.lobby_state == 1 and room.lobby_timer and 0 < room.lobby_timer <= now:
        with write_tx():
            changed = (
                Room.update(lobby_state=0, lobby_timer=None, last_activity=now)
                .where((Room.id == room.id) & (Room.lobby_state == 1))
                .execute()
            )
            room.lobby_state = 0
            room.lobby_timer = None
            room.last_activity = now
            if changed:
                listcache.touch_rooms([room.id])
            if changed and events is not None:
                events.emit(room, actor, "lobby_timer_reached")


def join_own_one_to_one(room: Room, user, now: int):
    """C23: the second user of a one-to-one becomes its owner when they open it."""
    if user.uid not in rules.one_to_one_pair(room):
        return None
    with write_tx():
        Attendee.insert(
            room=room.id,
            actor_type=ActorType.USERS,
            actor_id=user.uid,
            display_name=user.shown_name,
            participant_type=1,
            created_at=now,
            last_read_message=room.last_message_id or 0,
        ).on_conflict_ignore().execute()
        listcache.touch_rooms([room.id])
    return Attendee.get_or_none(
        (Attendee.room == room.id)
        & (Attendee.actor_type == ActorType.USERS)
        & (Attendee.actor_id == user.uid)
    )


def resolve(platform, req, token: str) -> RoomContext | None:
    """The room for this caller, or None when it does not exist for them."""
    room = Room.get_or_none(Room.token == token)
    if room is None:
        return None
    user = req.context.user
    attendee = None
    session = None
    if user is not None:
        attendee = Attendee.get_or_none(
            (Attendee.room == room.id)
            & (Attendee.actor_type == ActorType.USERS)
            & (Attendee.actor_id == user.uid)
        )
    if attendee is None and user is not None and room.type == RoomType.ONE_TO_ONE:
        attendee = join_own_one_to_one(room, user, int(platform.clock()))
    session, session_attendee = _session_attendee(platform, req, room)
    if attendee is None and user is None:
        attendee = session_attendee
    found = (
        room.type == RoomType.PUBLIC
        or attendee is not None
        or (user is not None and rules.listable_for_user(room, platform.registry.enabled("listable-rooms")))
        or session is not None
    )
    if not found:
        return None
    ctx = RoomContext(room=room, attendee=attendee, user=user, session=session)
    conversations = getattr(platform, "conversations", None)
    events = conversations.events if conversations is not None else None
    expire_lobby(room, int(platform.clock()), events, actor_of(ctx))
    return ctx


def not_found(platform, req, token: str) -> NotFound:
    """Register the ``talkRoomToken`` attempt (may raise 429) and build the 404."""
    platform.throttler.register(req.context.client, throttle.ROOM_TOKEN, {"token": token})
    return NotFound()


def authorize(platform, req, token: str, role: Role) -> RoomContext:
    """Load the room and check ``role``: 404 for strangers exactly as for unknown tokens, 403 only
    for attendees whose role is too low."""
    ctx = resolve(platform, req, token)
    if ctx is None:
        raise not_found(platform, req, token)
    if role is Role.NONE:
        return ctx
    if ctx.attendee is None:
        raise not_found(platform, req, token)
    if role is Role.MODERATOR and ctx.attendee.participant_type not in MODERATOR_TYPES:
        raise Forbidden()
    if role is Role.LOGGED_IN_MODERATOR and ctx.attendee.participant_type not in LOGGED_IN_MODERATOR_TYPES:
        raise Forbidden()
    return ctx
