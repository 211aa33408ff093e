"""The room object per API version and view (``conversations.md`` §3–§4, §8, §12)."""

from __future__ import annotations

import pytest

from tests.talk import api, create, set_type

V4_KEYS = [
    "id", "token", "type", "name", "displayName", "objectType", "objectId", "participantType",
    "participantFlags", "readOnly", "hasPassword", "hasCall", "callStartTime", "callRecording",
    "canStartCall", "lastActivity", "lastReadMessage", "unreadMessages", "unreadMention",
    "unreadMentionDirect", "isFavorite", "canLeaveConversation", "canDeleteConversation",
    "notificationLevel", "notificationCalls", "lobbyState", "lobbyTimer", "lastPing", "sessionId",
    "sipEnabled", "actorType", "actorId", "attendeeId", "permissions", "attendeePermissions",
    "callPermissions", "defaultPermissions", "canEnableSIP", "attendeePin", "description",
    "lastCommonReadMessage", "listable", "callFlag", "messageExpiration", "avatarVersion",
    "isCustomAvatar", "breakoutRoomMode", "breakoutRoomStatus", "recordingConsent",
    "mentionPermissions", "liveTranscriptionLanguageId", "lastPinnedId", "hiddenPinnedId",
    "isArchived", "isImportant", "isSensitive", "tagIds", "hasScheduledMessages", "attributes",
    "lastMessage",
]  # fmt: skip
V2_KEYS = [
    "id", "token", "type", "name", "displayName", "objectType", "objectId", "participantType",
    "participantFlags", "readOnly", "hasPassword", "hasCall", "canStartCall", "lastActivity",
    "lastReadMessage", "unreadMessages", "unreadMention", "isFavorite", "canLeaveConversation",
    "canDeleteConversation", "notificationLevel", "lobbyState", "lobbyTimer", "lastPing", "sessionId",
    "guestList", "lastMessage",
]  # fmt: skip
V3_KEYS = V2_KEYS + [
    "sipEnabled", "actorType", "actorId", "attendeeId", "canEnableSIP", "attendeePin", "description",
    "lastCommonReadMessage", "listable",
]  # fmt: skip
V1_KEYS = [
    "id", "token", "type", "name", "displayName", "objectType", "objectId", "participantType",
    "participantInCall", "participantFlags", "readOnly", "count", "hasPassword", "hasCall",
    "canStartCall", "lastActivity", "lastReadMessage", "unreadMessages", "unreadMention", "isFavorite",
    "notificationLevel", "lobbyState", "lobbyTimer", "lastPing", "sessionId", "participants",
    "numGuests", "guestList", "lastMessage",
]  # fmt: skip

# with chat, message-expiration is on by default: every v4 key is present for participants
DEFAULT_V4 = list(V4_KEYS)
# non-participant views carry no lastMessage (chat.md §6.4, C13)
NON_PARTICIPANT_V4 = [k for k in V4_KEYS if k != "lastMessage"]

BOOLS = {
    "hasPassword", "hasCall", "canStartCall", "unreadMention", "unreadMentionDirect", "isFavorite",
    "canLeaveConversation", "canDeleteConversation", "canEnableSIP", "isCustomAvatar", "isArchived",
    "isImportant", "isSensitive",
}  # fmt: skip
STRINGS = {
    "token", "name", "displayName", "objectType", "objectId", "sessionId", "actorType", "actorId",
    "attendeePin", "description", "avatarVersion", "liveTranscriptionLanguageId",
}  # fmt: skip


@pytest.fixture
def room(client):
    client.add_user("alice", "pw", display_name="Alice A")
    client.add_user("bob", "pw", display_name="Bob B")
    client.add_user("carol", "pw")
    data = create(client, "alice", roomType=2, roomName="Team", participants={"users": ["bob"]})
    return client, data["token"]


def get(client, token, user=None, version="v4", **kw):
    return client.ocs("GET", api(version) + f"/room/{token}", user=user, **kw)


def test_v4_keys_order_and_types(room):
    client, token = room
    data = client.data(get(client, token, "alice"))
    assert list(data) == DEFAULT_V4
    for key, value in data.items():
        if key in BOOLS:
            assert isinstance(value, bool), key
        elif key in STRINGS:
            assert isinstance(value, str), key
        elif key == "tagIds":
            assert value == [], key
        elif key == "lastMessage":
            assert isinstance(value, dict) and value["messageType"] == "system", key
        else:
            assert isinstance(value, int) and not isinstance(value, bool), key
    assert data["participantType"] == 1
    assert data["permissions"] == 510 and data["attendeePermissions"] == 0 and data["defaultPermissions"] == 0
    assert data["notificationLevel"] == 2 and data["notificationCalls"] == 1
    assert data["canLeaveConversation"] is True and data["canDeleteConversation"] is True
    assert data["lastActivity"] > 0
    assert len(data["avatarVersion"]) == 8


def test_plain_user_values(room):
    client, token = room
    data = client.data(get(client, token, "bob"))
    assert data["participantType"] == 3
    assert data["permissions"] == 502
    assert data["canDeleteConversation"] is False and data["canLeaveConversation"] is True
    assert (data["actorType"], data["actorId"]) == ("users", "bob")


@pytest.mark.parametrize(("version", "keys"), [("v1", V1_KEYS), ("v2", V2_KEYS), ("v3", V3_KEYS)])
def test_old_version_key_sets(room, version, keys):
    client, token = room
    data = client.data(get(client, token, "alice", version=version))
    assert list(data) == keys
    if version == "v1":
        assert data["participants"] == {
            "alice": {"name": "Alice A", "type": 1, "call": 0, "sessionId": "0"},
            "bob": {"name": "Bob B", "type": 3, "call": 0, "sessionId": "0"},
        }
        assert data["count"] == 0 and data["numGuests"] == 0 and data["participantInCall"] is False
    assert data["guestList"] == ""


def test_public_non_participant_view(room):
    client, _ = room
    pub = create(client, "alice", roomType=3, roomName="Secret name", description="Secret", password="pw1")
    for user in (None, "carol"):
        data = client.data(get(client, pub["token"], user))
        assert list(data) == NON_PARTICIPANT_V4
        assert data["name"] == "" and data["displayName"] == "" and data["description"] == ""
        assert data["participantType"] == 4
        assert data["hasPassword"] is True
        assert data["sessionId"] == "0"
        assert data["permissions"] == 1 and data["attendeePermissions"] == 1
        assert data["notificationLevel"] == 3 and data["lastActivity"] == 0


def test_listable_non_participant_view(room):
    client, _ = room
    listed = create(client, "alice", roomName="Open", listable=1, description="Desc")
    data = client.data(get(client, listed["token"], "carol"))
    assert (data["name"], data["displayName"], data["description"]) == ("Open", "Open", "Desc")
    assert data["participantType"] == 4 and data["listable"] == 1 and data["lastActivity"] > 0
    assert data["attendeeId"] == 0
    assert get(client, listed["token"]).status_int == 404  # never for anonymous callers


def test_one_to_one_names_follow_display_names(room):
    client, _ = room
    one = create(client, "alice", roomType=1, invite="carol")
    data = client.data(get(client, one["token"], "alice"))
    assert (data["name"], data["displayName"]) == ("carol", "carol")  # no display name: the id
    client.add_user("root", "pw", groups=["admin"])
    client.ocs("PUT", "/cloud/users/carol", user="root", form={"key": "displayname", "value": "Carol New"})
    data = client.data(get(client, one["token"], "alice"))
    assert data["displayName"] == "Carol New"
    assert data["notificationLevel"] == 1  # one-to-one default: always
    assert data["canDeleteConversation"] is False and data["canLeaveConversation"] is True


def test_lobby_waiting_view(room):
    client, token = room
    client.ocs("PUT", api() + f"/room/{token}/webinar/lobby", user="alice", form={"state": 1})
    data = client.data(get(client, token, "bob"))
    assert data["lobbyState"] == 1 and data["participantType"] == 3
    assert data["unreadMessages"] == 0 and data["canStartCall"] is False
    assert "lastMessage" not in data  # C13: the lobby-waiting view shows no message


def test_include_last_message_false(room):
    client, token = room
    data = client.data(
        client.ocs("GET", api() + "/room", user="alice", params={"includeLastMessage": "false"})
    )
    assert "lastMessage" not in data[0]
    data = client.data(client.ocs("GET", api() + "/room", user="alice"))
    assert data[0]["lastMessage"]["systemMessage"] == "user_added"  # bob joined after creation


def test_xml_room_object(room):
    client, token = room
    text = get(client, token, "alice", fmt="xml").text
    assert "  <hasCall></hasCall>\n" in text
    assert "  <tagIds/>\n  <hasScheduledMessages>0</hasScheduledMessages>" in text
    assert "  <lastMessage>\n   <id>" in text
    assert "   <systemMessage>user_added</systemMessage>\n" in text
    assert "  <canLeaveConversation>1</canLeaveConversation>\n" in text


@pytest.mark.parametrize(
    ("feature", "fields"),
    [
        ("favorites", ["isFavorite"]),
        ("read-only-rooms", ["readOnly"]),
        ("webinary-lobby", ["lobbyState", "lobbyTimer"]),
        ("room-description", ["description"]),
        ("listable-rooms", ["listable"]),
        (
            "conversation-permissions",
            ["permissions", "attendeePermissions", "callPermissions", "defaultPermissions"],
        ),
        ("mention-permissions", ["mentionPermissions"]),
        ("archived-conversations-v2", ["isArchived"]),
        ("important-conversations", ["isImportant"]),
        ("sensitive-conversations", ["isSensitive"]),
        ("avatar", ["avatarVersion", "isCustomAvatar"]),
        ("notification-levels", ["notificationLevel"]),
        ("notification-calls", ["notificationCalls"]),
    ],
)
def test_feature_off_removes_fields_string_and_routes(make_client, feature, fields):
    client = make_client({"talk": {"features": {feature: False}}})
    client.add_user("alice", "pw")
    data = create(client, "alice")
    for version in ("v1", "v2", "v3", "v4"):
        got = client.data(get(client, data["token"], "alice", version=version))
        for name in fields:
            assert name not in got, (version, name)
    full = [k for k in DEFAULT_V4 if k not in fields]
    assert list(client.data(get(client, data["token"], "alice"))) == full
    caps = client.data(client.ocs("GET", "/cloud/capabilities", user="alice"))
    assert feature not in caps["capabilities"]["spreed"]["features"]


def test_message_expiration_can_be_switched_off(make_client):
    client = make_client({"talk": {"features": {"message-expiration": False}}})
    client.add_user("alice", "pw")
    data = create(client, "alice")
    assert "messageExpiration" not in data
    r = client.ocs(
        "POST", api() + f"/room/{data['token']}/message-expiration", user="alice", form={"seconds": 3600}
    )
    assert r.status_int == 404 and r.json["ocs"]["meta"]["statuscode"] == 998
    on = make_client()  # on by default since chat purges expired messages itself
    r = on.ocs(
        "POST",
        api() + f"/room/{data['token']}/message-expiration",
        user="alice",
        password="pw",
        form={"seconds": 3600},
    )
    assert r.status_int == 200 and on.data(r)["messageExpiration"] == 3600


def test_effective_permissions(room):
    client, token = room
    set_type(token, "bob", 2)
    assert client.data(get(client, token, "bob"))["permissions"] == 510
    set_type(token, "bob", 3)
    client.ocs(
        "PUT", api() + f"/room/{token}/permissions/default", user="alice", form={"permissions": 8 | 128}
    )
    data = client.data(get(client, token, "bob"))
    assert (
        data["permissions"] == 137 and data["defaultPermissions"] == 137 and data["attendeePermissions"] == 0
    )


def test_server_default_permissions(make_client):
    client = make_client({"talk": {"default_permissions": 254}})
    client.add_user("alice", "pw")
    client.add_user("bob", "pw")
    data = create(client, "alice", participants={"users": ["bob"]})
    assert client.data(get(client, data["token"], "bob"))["permissions"] == 254
    caps = client.data(client.ocs("GET", "/cloud/capabilities", user="bob"))
    assert caps["capabilities"]["spreed"]["config"]["permissions"]["default"] == 254


def test_talk_hash_header(room):
    client, token = room
    h1 = get(client, token, "alice").headers["X-Nextcloud-Talk-Hash"]
    h2 = client.ocs("GET", api("v1") + "/room", user="bob").headers["X-Nextcloud-Talk-Hash"]
    h3 = client.ocs("GET", api() + "/room/note-to-self", user="bob").headers["X-Nextcloud-Talk-Hash"]
    assert h1 == h2 == h3 and len(h1) == 40
