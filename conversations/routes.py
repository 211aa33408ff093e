"""Wiring of the conversations feature: migrations, routes, capabilities, account hooks."""

from __future__ import annotations

from conversations import resources as r
from conversations.migrations import MIGRATIONS
from conversations.service import ConversationService

PREFIX = "/ocs/apps/spreed/api/{apiVersion}"

# The capability strings this package implements (capabilities.md §2.2).
FEATURES = (
    "empty-group-room",
    "multi-room-users",
    "favorites",
    "last-room-activity",
    "no-ping",
    "notification-levels",
    "invite-groups-and-mails",
    "locked-one-to-one-rooms",
    "read-only-rooms",
    "listable-rooms",
    "webinary-lobby",
    "room-description",
    "conversation-v2",
    "conversation-v3",
    "conversation-v4",
    "notification-calls",
    "conversation-permissions",
    "avatar",
    "note-to-self",
    "mention-permissions",
    "archived-conversations-v2",
    "conversation-creation-password",
    "conversation-creation-all",
    "important-conversations",
    "sensitive-conversations",
    "message-expiration",
)

__all__ = ["MIGRATIONS", "register", "routes"]


def routes(platform, service) -> list[tuple[str, object]]:
    """Every conversation route (path under the Talk prefix, resource)."""

    def made(cls):
        return cls(platform, service)

    return [
        ("/room", made(r.RoomsResource)),
        ("/room/note-to-self", made(r.NoteToSelfResource)),
        ("/listed-room", made(r.ListedRoomsResource)),
        ("/room/{token}", made(r.RoomResource)),
        ("/room/{token}/description", made(r.DescriptionResource)),
        ("/room/{token}/public", made(r.PublicResource)),
        ("/room/{token}/read-only", made(r.ReadOnlyResource)),
        ("/room/{token}/password", made(r.PasswordResource)),
        ("/room/{token}/listable", made(r.ListableResource)),
        (
            "/room/{token}/favorite",
            r.flag_resource("favorite", r.ALL, "favorites")(platform, service, "favorite"),
        ),
        ("/room/{token}/notify", made(r.NotifyResource)),
        ("/room/{token}/notify-calls", made(r.NotifyCallsResource)),
        ("/room/{token}/webinar/lobby", made(r.LobbyResource)),
        ("/room/{token}/webinary/lobby", made(r.LegacyLobbyResource)),
        ("/room/{token}/permissions/{mode}", made(r.DefaultPermissionsResource)),
        ("/room/{token}/message-expiration", made(r.MessageExpirationResource)),
        ("/room/{token}/mention-permissions", made(r.MentionPermissionsResource)),
        (
            "/room/{token}/archive",
            r.flag_resource("archived", r.V4, "archived-conversations-v2")(platform, service, "archived"),
        ),
        (
            "/room/{token}/important",
            r.flag_resource("important", r.V4, "important-conversations")(platform, service, "important"),
        ),
        (
            "/room/{token}/sensitive",
            r.flag_resource("sensitive", r.V4, "sensitive-conversations")(platform, service, "sensitive"),
        ),
        ("/room/{token}/capabilities", made(r.RoomCapabilitiesResource)),
        ("/room/{token}/avatar", made(r.AvatarResource)),
        ("/room/{token}/avatar/dark", made(r.DarkAvatarResource)),
        ("/room/{token}/avatar/emoji", made(r.EmojiAvatarResource)),
    ]


def register(app, platform) -> ConversationService:
    """Add the routes, declare the features, and subscribe to account events."""
    platform.registry.provide(*FEATURES)  # first: the serializer reads which fields are gated
    service = ConversationService(platform)
    for path, resource in routes(platform, service):
        app.add_route(PREFIX + path, resource)
    platform.hooks.register("user_deleted", service.on_user_deleted)
    platform.hooks.register("user_renamed", service.on_user_renamed)
    platform.hooks.register("group_renamed", service.on_group_renamed)
    platform.conversations = service
    return service
