"""Every conversation route under every Talk API version: served versions answer with that
version's payload (D1), all others are unknown routes (998)."""

from __future__ import annotations

import pytest

from tests.talk import VERSIONS, api, create, meta

ROOM, EMPTY, NULL, RAW = "room", "[]", "null", "raw"

# method, suffix after /room/{token}, request kwargs, {version: payload on success}
ROUTES = [
    ("GET", "", {}, {"v1": ROOM, "v2": ROOM, "v3": ROOM, "v4": ROOM}),
    ("PUT", "", {"params": {"roomName": "n"}}, {"v1": EMPTY, "v2": EMPTY, "v3": EMPTY, "v4": ROOM}),
    ("PUT", "/description", {"params": {"description": "d"}}, {"v3": EMPTY, "v4": ROOM}),
    ("POST", "/public", {}, {"v1": EMPTY, "v2": EMPTY, "v3": EMPTY, "v4": ROOM}),
    ("DELETE", "/public", {}, {"v1": EMPTY, "v2": EMPTY, "v3": EMPTY, "v4": ROOM}),
    ("PUT", "/read-only", {"form": {"state": 1}}, {"v1": EMPTY, "v2": EMPTY, "v3": EMPTY, "v4": ROOM}),
    ("PUT", "/listable", {"form": {"scope": 1}}, {"v3": EMPTY, "v4": ROOM}),
    ("POST", "/favorite", {}, {"v1": EMPTY, "v2": EMPTY, "v3": EMPTY, "v4": ROOM}),
    ("DELETE", "/favorite", {}, {"v1": EMPTY, "v2": EMPTY, "v3": EMPTY, "v4": ROOM}),
    ("POST", "/notify", {"form": {"level": 2}}, {"v1": EMPTY, "v2": EMPTY, "v3": EMPTY, "v4": ROOM}),
    ("POST", "/notify-calls", {"form": {"level": 1}}, {"v4": ROOM}),
    ("PUT", "/webinar/lobby", {"form": {"state": 0}}, {"v1": ROOM, "v2": ROOM, "v3": ROOM, "v4": ROOM}),
    ("PUT", "/webinary/lobby", {"form": {"state": 0}}, {"v1": ROOM, "v2": ROOM, "v3": ROOM}),
    ("PUT", "/permissions/default", {"form": {"permissions": 0}}, {"v4": ROOM}),
    ("PUT", "/mention-permissions", {"form": {"mentionPermissions": 0}}, {"v4": ROOM}),
    ("POST", "/archive", {}, {"v4": ROOM}),
    ("POST", "/important", {}, {"v4": ROOM}),
    ("POST", "/sensitive", {}, {"v4": ROOM}),
    ("GET", "/capabilities", {}, {"v4": RAW}),
    ("POST", "/avatar/emoji", {"json_body": {"emoji": "🌍"}}, {"v1": "room-v4"}),
    ("DELETE", "/avatar", {}, {"v1": "room-v4"}),
    ("DELETE", "", {}, {"v1": EMPTY, "v2": EMPTY, "v3": EMPTY, "v4": NULL}),
]


@pytest.fixture
def owner(client):
    client.add_user("alice", "pw")
    return client


@pytest.mark.parametrize(
    ("method", "suffix", "kwargs", "served"), ROUTES, ids=[f"{m} {s or '/'}" for m, s, _, _ in ROUTES]
)
def test_route_versions(owner, method, suffix, kwargs, served):
    for version in VERSIONS:
        token = create(owner, "alice", roomType=3, roomName="Versions")["token"]
        r = owner.ocs(method, api(version) + f"/room/{token}{suffix}", user="alice", **kwargs)
        if version not in served:
            assert (r.status_int, meta(r)["statuscode"]) == (404, 998), version
            continue
        assert r.status_int == 200, (version, r.text[:200])
        data = owner.data(r)
        kind = served[version]
        if kind == ROOM:
            assert data["token"] == token and ("attendeeId" in data) == (version in ("v3", "v4")), version
            assert ("participants" in data) == (version == "v1"), version
        elif kind == "room-v4":
            assert data["token"] == token and "attendeeId" in data and "isCustomAvatar" in data
        elif kind == EMPTY:
            assert data == [], version
        elif kind == NULL:
            assert data is None
        else:
            assert "features" in data


def test_capability_features_are_exactly_the_implemented_ones(owner):
    caps = owner.data(owner.ocs("GET", "/cloud/capabilities", user="alice"))["capabilities"]["spreed"]
    assert caps["features"] == [
        "chat-v2",
        "empty-group-room",
        "guest-display-names",
        "multi-room-users",
        "favorites",
        "last-room-activity",
        "no-ping",
        "system-messages",
        "delete-messages",
        "mention-flag",
        "notification-levels",
        "invite-groups-and-mails",
        "locked-one-to-one-rooms",
        "read-only-rooms",
        "listable-rooms",
        "chat-read-marker",
        "chat-unread",
        "webinary-lobby",
        "chat-replies",
        "chat-read-status",
        "room-description",
        "clear-history",
        "direct-mention-flag",
        "conversation-v2",
        "conversation-v3",
        "conversation-v4",
        "notification-calls",
        "conversation-permissions",
        "rich-object-delete",
        "chat-permission",
        "silent-send",
        "reactions",
        "react-permission",
        "avatar",
        "chat-get-context",
        "markdown-messages",
        "session-state",
        "note-to-self",
        "delete-messages-unlimited",
        "edit-messages",
        "silent-send-state",
        "chat-read-last",
        "chat-reference-id",
        "mention-permissions",
        "edit-messages-note-to-self",
        "archived-conversations-v2",
        "conversation-creation-password",
        "conversation-creation-all",
        "important-conversations",
        "sensitive-conversations",
        "promote-demote-owner",
        "message-expiration",
    ]
    assert caps["features-local"] == [
        "favorites",
        "chat-read-status",
        "listable-rooms",
        "avatar",
        "note-to-self",
        "archived-conversations-v2",
        "conversation-creation-all",
        "important-conversations",
        "sensitive-conversations",
    ]
