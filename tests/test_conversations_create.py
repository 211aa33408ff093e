"""Creating conversations (``conversations.md`` §9)."""

from __future__ import annotations

import pytest

from conversations.models import Attendee, Room
from tests.talk import VERSIONS, api, create, meta


@pytest.fixture
def users(client):
    client.add_user("alice", "pw", display_name="Alice A")
    client.add_user("bob", "pw", display_name="Bob B")
    client.add_user("carol", "pw", display_name="Carol C")
    return client


def attendees(token):
    room = Room.get(Room.token == token)
    return [
        (a.actor_type, a.actor_id, a.participant_type)
        for a in Attendee.select().where(Attendee.room == room.id).order_by(Attendee.id)
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_create_group_room_every_version(users, version):
    r = users.ocs("POST", api(version) + "/room", user="alice", json_body={"roomType": 2, "roomName": "Team"})
    assert r.status_int == 201
    data = users.data(r)
    assert data["type"] == 2 and data["name"] == "Team" and data["displayName"] == "Team"
    assert data["participantType"] == 1
    assert len(data["token"]) == 8 and set(data["token"]) <= set("abcdefghijkmnopqrstuvwxyz23456789")
    assert attendees(data["token"]) == [("users", "alice", 1)]


def test_v1_create_is_201_failure_envelope(users):
    r = users.ocs(
        "POST", api("v4") + "/room", user="alice", v=1, json_body={"roomType": 3, "roomName": "Pub"}
    )
    assert r.status_int == 200
    assert meta(r) == {
        "status": "failure",
        "statuscode": 201,
        "message": "",
        "totalitems": "",
        "itemsperpage": "",
    }


def test_form_body_and_query_create(users):
    r = users.ocs(
        "POST",
        api() + "/room",
        user="alice",
        form={"roomType": "3", "roomName": "Form", "invite": "", "source": ""},
    )
    assert r.status_int == 201 and users.data(r)["type"] == 3
    r = users.ocs("POST", api() + "/room", user="alice", params={"roomType": "2", "roomName": "Query"})
    assert users.data(r)["name"] == "Query"


def test_room_type_defaults_to_group_and_bad_types(users):
    r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomName": "Default"})
    assert users.data(r)["type"] == 2
    for bad in (0, 4, 5, 6, 99):
        r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": bad})
        assert r.status_int == 400 and users.data(r) == {"error": "type"}
    r = users.ocs("POST", api("v3") + "/room", user="alice", json_body={"roomType": 7})
    assert r.status_int == 400 and users.data(r) == []
    r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": "two"})
    assert r.status_int == 400 and users.data(r) == {"error": "roomType"}
    # empty is not a type (Talk answers 400 "type"), in a form body, a query and JSON
    r = users.ocs("POST", api() + "/room", user="alice", form={"roomType": "", "roomName": "E"})
    assert r.status_int == 400 and users.data(r) == {"error": "type"}
    r = users.ocs("POST", api() + "/room", user="alice", params={"roomType": "", "roomName": "E"})
    assert r.status_int == 400 and users.data(r) == {"error": "type"}
    r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": "", "roomName": "E"})
    assert r.status_int == 400 and users.data(r) == {"error": "type"}
    assert Room.select().count() == 1


def test_one_to_one_lifecycle(users):
    """C23 (Talk >= 22): only the creator at first; the other user joins with the first message,
    or when they create or open the same one-to-one."""
    r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": 1, "invite": "bob"})
    assert r.status_int == 201
    room = users.data(r)
    assert room["type"] == 1 and room["name"] == "bob" and room["displayName"] == "Bob B"
    assert attendees(room["token"]) == [("users", "alice", 1)]
    assert users.data(users.ocs("GET", api() + "/room", user="bob")) == []  # not in bob's list yet
    # creating again, from either side, answers the same room with 200 and adds the caller
    again = users.ocs("POST", api() + "/room", user="bob", json_body={"roomType": 1, "invite": "alice"})
    assert again.status_int == 200 and users.data(again)["token"] == room["token"]
    assert attendees(room["token"]) == [("users", "alice", 1), ("users", "bob", 1)]
    bobs = users.data(users.ocs("GET", api() + "/room", user="bob"))
    assert [(x["token"], x["name"], x["displayName"]) for x in bobs] == [(room["token"], "alice", "Alice A")]
    assert Room.select().count() == 1


def test_one_to_one_partner_joins_with_the_first_message_or_by_opening_it(users):
    token = users.data(
        users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": 1, "invite": "bob"})
    )["token"]
    r = users.ocs("POST", api("v1") + f"/chat/{token}", user="alice", form={"message": "hi bob"})
    assert r.status_int == 201
    assert attendees(token) == [("users", "alice", 1), ("users", "bob", 1)]
    bobs = users.data(users.ocs("GET", api() + "/room", user="bob"))
    assert bobs[0]["token"] == token and bobs[0]["unreadMessages"] == 1
    other = users.data(
        users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": 1, "invite": "carol"})
    )
    assert users.ocs("GET", api() + f"/room/{other['token']}", user="carol").status_int == 200
    assert attendees(other["token"]) == [("users", "alice", 1), ("users", "carol", 1)]
    # nobody else gets in that way
    assert users.ocs("GET", api() + f"/room/{other['token']}", user="bob").status_int == 404


def test_one_to_one_errors(users):
    r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": 1, "invite": "alice"})
    assert r.status_int == 403 and users.data(r) == {"error": "invite"}
    r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": 1, "invite": "nobody"})
    assert r.status_int == 404 and users.data(r) == {"error": "invite"}
    r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": 1})
    assert r.status_int == 404
    assert Room.select().count() == 0


def test_one_to_one_via_participants_and_readd_after_leaving(users):
    r = users.ocs(
        "POST", api() + "/room", user="alice", json_body={"roomType": 1, "participants": {"users": ["bob"]}}
    )
    token = users.data(r)["token"]
    Attendee.delete().where(Attendee.actor_id == "alice").execute()  # alice left
    r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": 1, "invite": "bob"})
    assert r.status_int == 200
    assert attendees(token) == [("users", "alice", 1)]


def test_names(users):
    emoji = "😀" * 255
    assert create(users, "alice", roomName=emoji)["name"] == emoji
    r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": 2, "roomName": "😀" * 256})
    assert r.status_int == 400 and users.data(r) == {"error": "name"}
    assert create(users, "alice", roomName="  padded  ")["name"] == "padded"
    assert create(users, "alice", roomName="👍🏽" * 127)["name"] == "👍🏽" * 127  # 254 code points
    markup = '"><img src=x><script>'
    assert create(users, "alice", roomName=markup)["name"] == markup
    r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": 2, "roomName": "   "})
    assert r.status_int == 400 and users.data(r) == {"error": "name"}
    r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": 2, "roomName": "a\u0001b"})
    assert r.status_int == 400
    assert create(users, "alice", roomName="")["name"] == "---"
    users.add_user("dave", "pw", groups=["staff"])
    assert create(users, "alice", roomName="", invite="staff")["name"] == "staff"


def test_markup_roundtrips_in_json_and_xml(users):
    markup = '<b>&"x"</b>'
    data = create(users, "alice", roomName=markup)
    r = users.ocs("GET", api() + f"/room/{data['token']}", user="alice")
    assert b"\\u003Cb\\u003E" in r.body and r.json["ocs"]["data"]["name"] == markup
    x = users.ocs("GET", api() + f"/room/{data['token']}", user="alice", fmt="xml")
    assert "<name>&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;</name>" in x.text


def test_invitations_and_invalid_participants(users):
    users.add_user("dave", "pw", groups=["staff"])
    r = users.ocs(
        "POST",
        api() + "/room",
        user="alice",
        json_body={
            "roomType": 2,
            "roomName": "Mixed",
            "participants": {
                "users": ["bob", "nosuchuser", "alice"],
                "groups": ["staff", "nogroup"],
                "phones": ["+4912345"],
            },
        },
    )
    assert r.status_int == 202
    data = users.data(r)
    assert data["invalidParticipants"] == {
        "users": ["nosuchuser"],
        "groups": ["nogroup"],
        "phones": ["+4912345"],
    }
    assert attendees(data["token"]) == [
        ("users", "alice", 1),
        ("users", "bob", 3),
        ("groups", "staff", 3),
        ("users", "dave", 3),
    ]
    r = users.ocs(
        "POST", api() + "/room", user="alice", json_body={"roomType": 2, "participants": {"users": ["ghost"]}}
    )
    assert r.status_int == 404 and users.data(r) == {"error": "invite"}


def test_email_invitation_makes_room_public(users):
    data = create(users, "alice", participants={"emails": ["Guest@Example.org"]})
    assert data["type"] == 3
    room = Room.get(Room.token == data["token"])
    email = Attendee.get((Attendee.room == room.id) & (Attendee.actor_type == "emails"))
    assert email.participant_type == 4 and email.invited_address == "Guest@Example.org"
    assert len(email.actor_id) == 64


def test_password_on_create(users):
    data = create(users, "alice", roomType=3, password="secret")
    assert data["hasPassword"] is True
    data = create(users, "alice", roomType=2, password="ignored")
    assert data["hasPassword"] is False


def test_force_passwords_and_minimum_length(make_client):
    client = make_client({"talk": {"force_passwords": True, "room_password_min_length": 8}})
    client.add_user("alice", "pw")
    r = client.ocs("POST", api() + "/room", user="alice", json_body={"roomType": 3, "roomName": "P"})
    assert r.status_int == 400 and client.data(r) == {
        "error": "password",
        "message": "Password needs to be set",
    }
    r = client.ocs(
        "POST", api() + "/room", user="alice", json_body={"roomType": 3, "roomName": "P", "password": "short"}
    )
    assert r.status_int == 400 and client.data(r) == {
        "error": "password",
        "message": "Password must be at least 8 characters long.",
    }
    r = client.ocs(
        "POST",
        api() + "/room",
        user="alice",
        json_body={"roomType": 3, "roomName": "P", "password": "long enough"},
    )
    assert r.status_int == 201
    assert Room.select().count() == 1


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"readOnly": 2}, "read-only"),
        ({"listable": 3}, "listable"),
        ({"messageExpiration": -1}, "message-expiration"),
        ({"lobbyState": 2}, "lobby"),
        ({"lobbyState": 1, "lobbyTimer": -5}, "lobby-timer"),
        ({"sipEnabled": 1}, "sip-enabled"),
        ({"permissions": 600}, "permissions"),
        ({"recordingConsent": 1}, "recording-consent"),
        ({"mentionPermissions": 2}, "mention-permissions"),
        ({"description": "x" * 2001}, "description"),
        ({"emoji": "ab"}, "avatar"),
        ({"emoji": "🙂", "avatarColor": "red"}, "avatar"),
        ({"objectType": "phone", "objectId": "x"}, "object-type"),
        ({"objectType": "event"}, "object"),
        ({"objectType": "extended_conversation", "objectId": "nosuchtoken"}, "object"),
        ({"objectId": "x" * 65, "objectType": "event"}, "object-id"),
    ],
)
def test_create_attribute_errors(users, params, key):
    r = users.ocs("POST", api() + "/room", user="alice", json_body={"roomType": 2, "roomName": "R", **params})
    assert r.status_int == 400
    assert users.data(r) == {"error": key}
    assert Room.select().count() == 0


def test_create_all_attributes(users):
    data = create(
        users,
        "alice",
        roomType=3,
        readOnly=1,
        listable=2,
        lobbyState=1,
        lobbyTimer=4102444800,
        permissions=128,
        mentionPermissions=1,
        description="About",
        emoji="🎉",
        avatarColor="00ff00",
        objectType="event",
        objectId="1700000000#1700003600",
    )
    assert (data["readOnly"], data["listable"], data["lobbyState"], data["lobbyTimer"]) == (
        1,
        2,
        1,
        4102444800,
    )
    assert data["defaultPermissions"] == 129
    assert (data["mentionPermissions"], data["description"], data["isCustomAvatar"]) == (1, "About", True)
    assert (data["objectType"], data["objectId"]) == ("event", "1700000000#1700003600")


def test_extended_conversation_from_own_one_to_one(users):
    one = create(users, "alice", roomType=1, invite="bob", status=201)
    data = create(
        users,
        "alice",
        roomName="More",
        objectType="extended_conversation",
        objectId=one["token"],
        participants={"users": ["bob", "carol"]},
    )
    assert data["objectType"] == "extended_conversation"
    r = users.ocs(
        "POST",
        api() + "/room",
        user="carol",
        json_body={
            "roomType": 2,
            "roomName": "X",
            "objectType": "extended_conversation",
            "objectId": one["token"],
        },
    )
    assert r.status_int == 400 and users.data(r) == {"error": "object"}


def test_gated_create_parameters(make_client):
    client = make_client({"talk": {"features": {"read-only-rooms": False}}})
    client.add_user("alice", "pw")
    r = client.ocs(
        "POST", api() + "/room", user="alice", json_body={"roomType": 2, "roomName": "R", "readOnly": 1}
    )
    assert r.status_int == 400 and client.data(r) == {"error": "read-only"}
    assert (
        client.ocs(
            "POST", api() + "/room", user="alice", json_body={"roomType": 2, "roomName": "R", "readOnly": 0}
        ).status_int
        == 201
    )
    off = make_client({"talk": {"features": {"conversation-creation-all": False}}})
    r = off.ocs(
        "POST",
        api() + "/room",
        user="alice",
        password="pw",
        json_body={"roomType": 2, "roomName": "R", "readOnly": 7},
    )
    assert r.status_int == 201 and off.data(r)["readOnly"] == 0  # ignored, as before Talk 21.1


def test_allowed_creator_groups(make_client):
    client = make_client({"talk": {"allowed_creator_groups": ["creators"]}})
    client.add_user("alice", "pw", groups=["creators"])
    client.add_user("bob", "pw")
    assert client.ocs("POST", api() + "/room", user="alice", json_body={"roomName": "ok"}).status_int == 201
    r = client.ocs("POST", api() + "/room", user="bob", json_body={"roomName": "no"})
    assert r.status_int == 403 and client.data(r) == {"error": "permissions"}
    # one-to-one rooms are not restricted
    assert (
        client.ocs(
            "POST", api() + "/room", user="bob", json_body={"roomType": 1, "invite": "alice"}
        ).status_int
        == 201
    )


def test_anonymous_cannot_create_or_list(users):
    assert users.ocs("POST", api() + "/room", json_body={"roomName": "x"}).status_int == 401
    assert users.ocs("GET", api() + "/room").status_int == 401
    assert Room.select().count() == 0


def test_token_collisions_draw_again(make_app):
    tokens = iter(["aaaaaaaa", "aaaaaaaa", "bbbbbbbb"])
    app = make_app()
    service = app.platform.conversations
    service.token_source = lambda length: next(tokens)
    from tests.conftest import OCSClient

    client = OCSClient(app, {})
    client.add_user("alice", "pw")
    assert create(client, "alice")["token"] == "aaaaaaaa"
    assert create(client, "alice")["token"] == "bbbbbbbb"
