"""Every conversation mutation: its rules, error keys and per-version payloads (§10)."""

from __future__ import annotations

import pytest

from conversations.models import Attendee, Room
from tests.talk import VERSIONS, api, create, meta, set_type, snapshot


@pytest.fixture
def team(client):
    client.add_user("alice", "pw", display_name="Alice")
    client.add_user("bob", "pw", display_name="Bob")
    client.add_user("carol", "pw")
    data = create(client, "alice", roomName="Team", participants={"users": ["bob"]})
    return client, data["token"]


def room_of(token) -> Room:
    return Room.get(Room.token == token)


def call(client, method, token, suffix="", user="alice", version="v4", **kw):
    return client.ocs(method, api(version) + f"/room/{token}{suffix}", user=user, **kw)


# --- rename / description / delete ----------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_rename_payload_per_version(team, version):
    client, token = team
    r = call(client, "PUT", token, version=version, params={"roomName": " New name "})
    assert r.status_int == 200
    assert client.data(r)["name"] == "New name" if version == "v4" else client.data(r) == []
    assert room_of(token).name == "New name"


def test_rename_rules(team):
    client, token = team
    before = room_of(token).last_activity
    Room.update(last_activity=1).where(Room.token == token).execute()
    assert call(client, "PUT", token, params={"roomName": "Team"}).status_int == 200
    assert room_of(token).last_activity == 1  # same name: no activity
    for bad in ("", "   ", "x" * 256):
        r = call(client, "PUT", token, form={"roomName": bad})
        assert r.status_int == 400 and client.data(r) == {"error": "value"}, bad
    r = call(client, "PUT", token)
    assert r.status_int == 400 and client.data(r) == {"error": "roomName"}
    call(client, "PUT", token, params={"roomName": "Changed"})
    assert room_of(token).last_activity >= before
    one = create(client, "alice", roomType=1, invite="bob")
    r = call(client, "PUT", one["token"], params={"roomName": "x"})
    assert r.status_int == 400 and client.data(r) == {"error": "type"}
    event = create(client, "alice", objectType="event", objectId="1#2")
    r = call(client, "PUT", event["token"], params={"roomName": "x"})
    assert r.status_int == 400 and client.data(r) == {"error": "event"}
    r = call(client, "PUT", event["token"], "/description", params={"description": "x"})
    assert r.status_int == 400 and client.data(r) == {"error": "event"}


def test_description(team):
    client, token = team
    r = call(client, "PUT", token, "/description", params={"description": "  About us  "})
    assert client.data(r)["description"] == "About us"
    r = call(client, "PUT", token, "/description", form={"description": ""})
    assert client.data(r)["description"] == ""
    r = call(client, "PUT", token, "/description", form={"description": "d" * 2001})
    assert r.status_int == 400 and client.data(r) == {"error": "value"}
    assert call(client, "PUT", token, "/description", form={"description": "d" * 2000}).status_int == 200
    assert (
        call(client, "PUT", token, "/description", version="v2", form={"description": "x"}).status_int == 404
    )
    assert (
        meta(call(client, "PUT", token, "/description", version="v2", form={"description": "x"}))[
            "statuscode"
        ]
        == 998
    )
    r = call(client, "PUT", token, "/description", user="bob", form={"description": "x"})
    assert r.status_int == 403 and client.data(r) == []


def test_description_length_from_config(make_client):
    client = make_client({"talk": {"description_max_length": 10}})
    client.add_user("alice", "pw")
    token = create(client, "alice")["token"]
    assert call(client, "PUT", token, "/description", form={"description": "x" * 11}).status_int == 400
    caps = client.data(client.ocs("GET", "/cloud/capabilities", user="alice"))
    assert caps["capabilities"]["spreed"]["config"]["conversations"]["description-length"] == 10


@pytest.mark.parametrize("version", VERSIONS)
def test_delete(team, version):
    client, token = team
    r = call(client, "DELETE", token, version=version)
    assert r.status_int == 200
    assert client.data(r) is None if version == "v4" else client.data(r) == []
    assert Room.select().where(Room.token == token).count() == 0
    assert Attendee.select().count() == 0
    assert call(client, "GET", token).status_int == 404


def test_delete_one_to_one(team, make_client):
    client, _ = team
    one = create(client, "alice", roomType=1, invite="bob")
    r = call(client, "DELETE", one["token"])
    assert r.status_int == 400 and client.data(r) is None
    allowed = make_client({"talk": {"delete_one_to_one_conversations": True}})
    assert call(allowed, "DELETE", one["token"], password="pw").status_int == 200


# --- public / private / password ------------------------------------------------------------


def test_public_private(team):
    client, token = team
    r = call(client, "POST", token, "/public")
    assert client.data(r)["type"] == 3
    assert call(client, "POST", token, "/public").status_int == 200  # no-op
    Attendee.create(
        room=room_of(token).id, actor_type="guests", actor_id="g" * 40, participant_type=4, created_at=1
    )
    Attendee.create(
        room=room_of(token).id, actor_type="users", actor_id="carol", participant_type=5, created_at=1
    )
    Attendee.create(
        room=room_of(token).id, actor_type="emails", actor_id="e" * 64, participant_type=4, created_at=1
    )
    r = call(client, "DELETE", token, "/public")
    assert client.data(r)["type"] == 2
    left = [
        (a.actor_type, a.actor_id)
        for a in Attendee.select().where(Attendee.room == room_of(token).id).order_by(Attendee.id)
    ]
    assert left == [("users", "alice"), ("users", "bob"), ("emails", "e" * 64)]
    assert call(client, "DELETE", token, "/public").status_int == 200  # no-op
    one = create(client, "alice", roomType=1, invite="carol")
    for method in ("POST", "DELETE"):
        r = call(client, method, one["token"], "/public")
        assert r.status_int == 400 and client.data(r) == {"error": "type"}


def test_make_public_with_password(team):
    client, token = team
    r = call(client, "POST", token, "/public", form={"password": "secret"})
    assert client.data(r)["hasPassword"] is True and client.data(r)["type"] == 3
    # making it private keeps the hash
    r = call(client, "DELETE", token, "/public")
    assert client.data(r)["hasPassword"] is True


def test_password(team):
    client, token = team
    r = call(client, "PUT", token, "/password", params={"password": "x"})
    assert r.status_int == 400 and client.data(r) == {"error": "type"}
    call(client, "POST", token, "/public")
    r = call(client, "PUT", token, "/password", params={"password": "secret"})
    assert client.data(r)["hasPassword"] is True
    assert room_of(token).password_hash.startswith("$argon2id$")
    r = call(client, "PUT", token, "/password", params={"password": "p" * 1025})
    assert r.status_int == 400 and client.data(r)["error"] == "value" and "message" in client.data(r)
    r = call(client, "PUT", token, "/password", params={"password": ""})
    assert client.data(r)["hasPassword"] is False
    r = call(client, "PUT", token, "/password")
    assert r.status_int == 400 and client.data(r) == {"error": "password"}
    # anyone can see whether a public room has a password
    call(client, "PUT", token, "/password", params={"password": "again"})
    assert client.data(client.ocs("GET", api() + f"/room/{token}"))["hasPassword"] is True


# --- read-only / listable / lobby -----------------------------------------------------------


def test_read_only(team):
    client, token = team
    r = call(client, "PUT", token, "/read-only", form={"state": 1})
    assert client.data(r)["readOnly"] == 1
    for bad in (2, -1):
        r = call(client, "PUT", token, "/read-only", form={"state": bad})
        assert r.status_int == 400 and client.data(r) == {"error": "value"}
    r = call(client, "PUT", token, "/read-only")
    assert r.status_int == 400 and client.data(r) == {"error": "state"}
    note = client.data(client.ocs("GET", api() + "/room/note-to-self", user="alice"))
    r = call(client, "PUT", note["token"], "/read-only", form={"state": 1})
    assert r.status_int == 400 and client.data(r) == {"error": "type"}


def test_listable_and_listed_rooms(team):
    client, token = team
    r = call(client, "PUT", token, "/listable", form={"scope": 2})
    assert client.data(r)["listable"] == 2
    assert call(client, "PUT", token, "/listable", form={"scope": 3}).status_int == 400
    create(client, "alice", roomName="Other team", listable=1)
    create(client, "alice", roomName="Hidden")
    found = client.data(client.ocs("GET", api() + "/listed-room", user="carol"))
    assert [x["name"] for x in found] == ["Team", "Other team"]
    assert all(x["participantType"] == 4 for x in found)
    found = client.data(
        client.ocs("GET", api() + "/listed-room", user="carol", params={"searchTerm": "OTHER tea"})
    )
    assert [x["name"] for x in found] == ["Other team"]
    # members do not see their own rooms in the listing
    assert [x["name"] for x in client.data(client.ocs("GET", api() + "/listed-room", user="bob"))] == [
        "Other team"
    ]
    assert client.ocs("GET", api() + "/listed-room").status_int == 401
    assert meta(client.ocs("GET", api("v2") + "/listed-room", user="carol"))["statuscode"] == 998
    # a listable room can be seen by a stranger, not changed
    assert call(client, "GET", token, user="carol").status_int == 200
    assert call(client, "PUT", token, user="carol", params={"roomName": "x"}).status_int == 404


@pytest.mark.parametrize("version", VERSIONS)
def test_lobby_returns_room_in_every_version(team, version):
    client, token = team
    path = "/webinar/lobby"
    r = call(client, "PUT", token, path, version=version, form={"state": 1, "timer": 4102444800})
    assert r.status_int == 200
    assert client.data(r)["lobbyState"] == 1 and client.data(r)["lobbyTimer"] == 4102444800


def test_lobby_rules_and_timer(team, make_client):
    client, token = team
    r = call(client, "PUT", token, "/webinar/lobby", form={"state": 2})
    assert r.status_int == 400 and client.data(r) == {"error": "value"}
    r = call(client, "PUT", token, "/webinar/lobby", form={"state": 1, "timer": "soon"})
    assert r.status_int == 400 and client.data(r) == {"error": "value"}
    r = call(client, "PUT", token, "/webinar/lobby", form={"state": 0, "timer": 4102444800})
    assert client.data(r)["lobbyTimer"] == 0
    # the alias below v4 (Talk iOS) and not on v4
    assert call(client, "PUT", token, "/webinary/lobby", version="v3", form={"state": 1}).status_int == 200
    assert meta(call(client, "PUT", token, "/webinary/lobby", form={"state": 1}))["statuscode"] == 998
    # a timer in the past ends the lobby on the next read and bumps lastActivity
    clock = [2_000_000_000]
    timed = make_client(clock=lambda: clock[0])
    r = call(timed, "PUT", token, "/webinar/lobby", password="pw", form={"state": 1, "timer": 2_000_000_100})
    assert timed.data(r)["lobbyState"] == 1
    clock[0] = 2_000_000_200
    data = timed.data(call(timed, "GET", token, password="pw"))
    assert (data["lobbyState"], data["lobbyTimer"], data["lastActivity"]) == (0, 0, 2_000_000_200)
    one = create(client, "alice", roomType=1, invite="carol")
    r = call(client, "PUT", one["token"], "/webinar/lobby", form={"state": 1})
    assert r.status_int == 400 and client.data(r) == {"error": "type"}


# --- attendee-level flags -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "field", "versions"),
    [
        ("/favorite", "isFavorite", VERSIONS),
        ("/archive", "isArchived", ("v4",)),
        ("/important", "isImportant", ("v4",)),
        ("/sensitive", "isSensitive", ("v4",)),
    ],
)
def test_attendee_flags_are_per_user(team, suffix, field, versions):
    client, token = team
    for version in VERSIONS:
        r = call(client, "POST", token, suffix, version=version)
        if version not in versions:
            assert meta(r)["statuscode"] == 998
    r = call(client, "POST", token, suffix)
    assert client.data(r)[field] is True
    assert client.data(call(client, "GET", token, user="bob"))[field] is False
    r = call(client, "DELETE", token, suffix)
    assert client.data(r)[field] is False
    assert call(client, "POST", token, suffix, user="carol").status_int == 404
    assert call(client, "POST", token, suffix, user=None).status_int == 401
    Room.update(last_activity=5).where(Room.token == token).execute()
    call(client, "POST", token, suffix)
    assert room_of(token).last_activity == 5  # attendee-level: no room activity


def test_notification_levels(team):
    client, token = team
    r = call(client, "POST", token, "/notify", json_body={"level": 3})
    assert client.data(r)["notificationLevel"] == 3
    for bad in (0, 4):
        r = call(client, "POST", token, "/notify", json_body={"level": bad})
        assert r.status_int == 400 and client.data(r) == {"error": "level"}
    r = call(client, "POST", token, "/notify-calls", form={"level": 0})
    assert client.data(r)["notificationCalls"] == 0
    assert call(client, "POST", token, "/notify-calls", form={"level": 2}).status_int == 400
    assert (
        meta(call(client, "POST", token, "/notify-calls", version="v3", form={"level": 0}))["statuscode"]
        == 998
    )
    assert client.data(call(client, "GET", token, user="bob"))["notificationLevel"] == 2


def test_default_group_notification_config(make_client):
    client = make_client({"talk": {"default_group_notification": 1}})
    client.add_user("alice", "pw")
    assert create(client, "alice")["notificationLevel"] == 1


# --- permissions ----------------------------------------------------------------------------


def test_default_permissions(team):
    client, token = team
    Attendee.update(permissions=255).where(Attendee.actor_id == "bob").execute()
    r = call(client, "PUT", token, "/permissions/default", form={"permissions": 48})
    assert client.data(r)["defaultPermissions"] == 49
    assert Attendee.get(Attendee.actor_id == "bob").permissions == 0  # reset to default
    r = call(client, "PUT", token, "/permissions/default", form={"permissions": 0})
    assert client.data(r)["defaultPermissions"] == 0
    r = call(client, "PUT", token, "/permissions/call", form={"permissions": 4})
    assert r.status_int == 400 and client.data(r) == {"error": "mode"}
    assert (
        meta(call(client, "PUT", token, "/permissions/other", form={"permissions": 4}))["statuscode"] == 404
    )
    for bad in (-1, 512):
        r = call(client, "PUT", token, "/permissions/default", form={"permissions": bad})
        assert r.status_int == 400 and client.data(r) == {"error": "value"}
    one = create(client, "alice", roomType=1, invite="carol")
    r = call(client, "PUT", one["token"], "/permissions/default", form={"permissions": 4})
    assert r.status_int == 400 and client.data(r) == {"error": "type"}


def test_mention_permissions(team):
    client, token = team
    r = call(client, "PUT", token, "/mention-permissions", form={"mentionPermissions": 1})
    assert client.data(r)["mentionPermissions"] == 1
    assert (
        call(client, "PUT", token, "/mention-permissions", form={"mentionPermissions": 2}).status_int == 400
    )


# --- note to self, capabilities ---------------------------------------------------------------


def test_note_to_self(team):
    client, _ = team
    first = client.data(client.ocs("GET", api() + "/room/note-to-self", user="bob"))
    again = client.data(client.ocs("GET", api() + "/room/note-to-self", user="bob"))
    assert first["token"] == again["token"] and first["type"] == 6
    assert (first["name"], first["description"]) == (
        "Note to self",
        "A place for your private notes, thoughts and ideas",
    )
    assert (first["objectType"], first["objectId"]) == ("note_to_self", "bob")
    assert first["canLeaveConversation"] is False
    assert first["token"] in [x["token"] for x in client.data(client.ocs("GET", api() + "/room", user="bob"))]
    assert meta(client.ocs("GET", api("v3") + "/room/note-to-self", user="bob"))["statuscode"] == 998
    for suffix in ("/public",):
        r = call(client, "POST", first["token"], suffix, user="bob")
        assert r.status_int == 400 and client.data(r) == {"error": "type"}
    assert call(client, "PUT", first["token"], user="bob", params={"roomName": "Mine"}).status_int == 200


def test_room_capabilities(team):
    client, token = team
    r = call(client, "GET", token, "/capabilities")
    assert r.status_int == 200
    assert "conversation-v4" in client.data(r)["features"]
    assert len(r.headers["X-Nextcloud-Talk-Hash"]) == 40
    assert call(client, "GET", token, "/capabilities", user="carol").status_int == 404
    assert meta(call(client, "GET", token, "/capabilities", version="v3"))["statuscode"] == 998


# --- avatars --------------------------------------------------------------------------------


def png(width, height):
    import struct
    import zlib

    raw = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def upload(client, token, data, user="alice", name="file"):
    boundary = "XyZ"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return call(
        client,
        "POST",
        token,
        "/avatar",
        version="v1",
        user=user,
        body=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_avatars(team):
    client, token = team
    before = client.data(call(client, "GET", token))["avatarVersion"]
    image = png(4, 4)
    r = upload(client, token, image)
    assert r.status_int == 200, r.text
    data = client.data(r)
    assert data["isCustomAvatar"] is True and data["avatarVersion"] != before
    got = client.test.get(
        f"/ocs/v2.php/apps/spreed/api/v1/room/{token}/avatar", headers={"Authorization": "Basic Ym9iOnB3"}
    )
    assert got.body == image and got.content_type == "image/png"
    assert got.headers["Cache-Control"] == "private, max-age=86400, immutable"
    for bad, message in [
        (png(4, 5), "The avatar must be a square"),
        (b"GIF89a....", "Unknown filetype"),
        (png(5000, 5000)[:33], "Invalid image"),
    ]:
        r = upload(client, token, bad)
        assert r.status_int == 400 and client.data(r) == {"message": message}
    r = upload(client, token, image, name="other")
    assert client.data(r) == {"message": "No image file provided"}
    r = call(
        client, "POST", token, "/avatar/emoji", version="v1", json_body={"emoji": "🚀", "color": "123456"}
    )
    assert client.data(r)["isCustomAvatar"] is True
    svg = client.test.get(
        f"/ocs/v2.php/apps/spreed/api/v1/room/{token}/avatar/dark",
        headers={"Authorization": "Basic Ym9iOnB3"},
    )
    assert svg.content_type == "image/svg+xml" and "🚀".encode() in svg.body
    assert client.data(
        call(client, "POST", token, "/avatar/emoji", version="v1", json_body={"emoji": "ab"})
    ) == {"message": "Invalid emoji character"}
    assert client.data(
        call(client, "POST", token, "/avatar/emoji", version="v1", json_body={"emoji": "🚀", "color": "zz"})
    ) == {"message": "Invalid background color"}
    r = call(client, "DELETE", token, "/avatar", version="v1")
    assert client.data(r)["isCustomAvatar"] is False
    assert upload(client, token, image, user="bob").status_int == 403
    # strangers and anonymous get the OCS 404
    stranger = client.test.get(
        f"/ocs/v2.php/apps/spreed/api/v1/room/{token}/avatar?format=json",
        headers={"Authorization": "Basic Y2Fyb2w6cHc="},
        status=404,
    )
    assert stranger.json["ocs"]["meta"]["statuscode"] == 404
    one = create(client, "alice", roomType=1, invite="carol")
    r = upload(client, one["token"], image)
    assert client.data(r) == {"message": "One-to-one rooms always need to show the other users avatar"}
    assert meta(call(client, "DELETE", token, "/avatar", version="v4"))["statuscode"] == 998


def test_denied_mutations_change_nothing(team):
    client, token = team
    set_type(token, "bob", 3)
    before = snapshot(token)
    for method, suffix, kwargs in [
        ("PUT", "", {"params": {"roomName": "x"}}),
        ("DELETE", "", {}),
        ("PUT", "/description", {"params": {"description": "x"}}),
        ("POST", "/public", {}),
        ("PUT", "/read-only", {"form": {"state": 1}}),
        ("PUT", "/listable", {"form": {"scope": 1}}),
        ("PUT", "/webinar/lobby", {"form": {"state": 1}}),
        ("PUT", "/permissions/default", {"form": {"permissions": 4}}),
        ("PUT", "/mention-permissions", {"form": {"mentionPermissions": 1}}),
    ]:
        r = call(client, method, token, suffix, user="bob", **kwargs)
        assert r.status_int == 403 and client.data(r) == [], suffix
        r = call(client, method, token, suffix, user="carol", **kwargs)
        assert r.status_int == 404, suffix
        assert snapshot(token) == before, suffix
