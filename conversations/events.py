"""Room events: what conversation and participant changes tell other features (the chat posts
them as system messages, ``chat.md`` §7).

Events are emitted inside the write transaction of the change, so that a subscriber's writes
commit or roll back with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RoomEvent:
    """One change of a room: ``name`` is Talk's system-message name."""

    room: object
    actor: tuple[str, str]  # (actor type, actor id) of whoever caused it
    name: str
    parameters: dict = field(default_factory=dict)


class RoomEvents:
    """Subscribers of room events (idempotent registration)."""

    def __init__(self):
        self._subscribers: list = []

    def subscribe(self, callback) -> None:
        if callback not in self._subscribers:
            self._subscribers.append(callback)

    def emit(self, room, actor: tuple[str, str], name: str, **parameters) -> None:
        if not self._subscribers:
            return
        event = RoomEvent(room=room, actor=actor, name=name, parameters=parameters)
        for callback in self._subscribers:
            callback(event)


def actor_of(ctx) -> tuple[str, str]:
    """The actor of a request in a room: its attendee, else its user."""
    if ctx.attendee is not None:
        return ctx.attendee.actor_type, ctx.attendee.actor_id
    if ctx.user is not None:
        return "users", ctx.user.uid
    return "guests", "system"
