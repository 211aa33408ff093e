"""Wiring of the chat feature: migrations, routes, capabilities, room events and room fields."""

from __future__ import annotations

from chat import resources as r
from chat.constants import FEATURES
from chat.migrations import MIGRATIONS
from chat.service import ChatService

PREFIX = "/ocs/apps/spreed/api/{apiVersion}"
MESSAGE_ID = "{messageId:int(min=0, max=9223372036854775807)}"

__all__ = ["MIGRATIONS", "register", "routes"]


def routes(platform, service) -> list[tuple[str, object]]:
    """Every chat and reaction route (path under the Talk prefix, resource)."""

    def made(cls):
        return cls(platform, service)

    return [
        ("/chat/{token}", made(r.ChatResource)),
        ("/chat/{token}/read", made(r.ReadMarkerResource)),
        ("/chat/{token}/mentions", made(r.MentionsResource)),
        (f"/chat/{{token}}/{MESSAGE_ID}", made(r.MessageResource)),
        (f"/chat/{{token}}/{MESSAGE_ID}/context", made(r.ContextResource)),
        (f"/reaction/{{token}}/{MESSAGE_ID}", made(r.ReactionResource)),
    ]


def register(app, platform) -> ChatService:
    """Add the routes, declare the features, post system messages and fill room chat fields."""
    platform.registry.provide(*FEATURES, requires="chat-v2")
    conversations = platform.conversations
    service = ChatService(platform, conversations)
    for path, resource in routes(platform, service):
        app.add_route(PREFIX + path, resource)
    conversations.events.subscribe(service.on_room_event)
    conversations.chat_fields = service.fill_views
    conversations.chat_expiry = service.next_expiry
    platform.chat = service
    return service
