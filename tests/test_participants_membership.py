"""Who is in a room: listing, adding, removing, leaving, roles, permissions (participants.md)."""

from __future__ import annotations

import pytest

from conversations.models import Attendee, Room
from participants.models import TalkSession
from tests.participants_helpers import Guest, attendees
from tests.talk import api, create, meta, set_type


@pytest.fixture
def team(client):
    for uid in ("alice", "bob", "carol", "dave"):
        client.add_user(uid, "pw", display_name=uid.title())
    token = create(client, "alice", roomType=3, roomName="Team", participants={"users": ["bob"]})["token"]
    return client, token


def aid(token, actor_id):
    room = Room.get(Room.token == token)
    return Attendee.get((Attendee.room == room.id) & (Attendee.actor_id == actor_id)).id


def set_permissions(client, token, uid, method, permissions, user="alice"):
    """``PUT …/attendees/permissions`` for the attendee of ``uid``."""
    form = {"attendeeId": aid(token, uid), "method": method, "permissions": permissions}
    return client.ocs("PUT", api() + f"/room/{token}/attendees/permissions", user=user, form=form)


def listing(client, token, user="alice", version="v4"):
    return client.ocs("GET", api(version) + f"/room/{token}/participants", user=user)


V4_KEYS = [
    "roomToken", "inCall", "lastPing", "sessionIds", "participantType", "attendeeId", "actorId",
    "actorType", "displayName", "permissions", "attendeePermissions", "attendeePin", "phoneNumber", "callId",
]  # fmt: skip


def test_list_shapes_per_version(team):
    client, token = team
    guest = Guest(client.app)
    guest.join(token)
    guest.call("POST", f"/guest/{token}/name", version="v1", form={"displayName": "Visitor"})
    data = client.data(listing(client, token))
    assert [p["actorId"] for p in data[:2]] == ["alice", "bob"]
    assert list(data[0]) == V4_KEYS
    assert data[0]["permissions"] == 510 and data[1]["permissions"] == 502
    assert (
        data[2]["actorType"] == "guests"
        and data[2]["displayName"] == "Visitor"
        and len(data[2]["sessionIds"]) == 1
    )
    v3 = client.data(listing(client, token, version="v3"))
    assert list(v3[0]) == [
        "inCall",
        "lastPing",
        "sessionId",
        "participantType",
        "attendeeId",
        "actorId",
        "actorType",
        "displayName",
        "attendeePin",
    ]
    assert v3[2]["sessionId"] == data[2]["sessionIds"][0]
    v1 = client.data(listing(client, token, version="v1"))
    assert list(v1[0]) == ["inCall", "lastPing", "sessionId", "participantType", "userId", "displayName"]
    assert [p["userId"] for p in v1] == ["alice", "bob", ""]


def test_groups_and_emails_listed_only_from_v3(team):
    client, token = team
    client.add_user("erin", "pw", groups=["staff"])
    client.ocs(
        "POST",
        api() + f"/room/{token}/participants",
        user="alice",
        form={"newParticipant": "staff", "source": "groups"},
    )
    client.ocs(
        "POST",
        api() + f"/room/{token}/participants",
        user="alice",
        form={"newParticipant": "x@example.org", "source": "emails"},
    )
    v4 = client.data(listing(client, token))
    assert [p["actorType"] for p in v4] == ["users", "users", "groups", "users", "emails"]
    assert v4[4]["invitedActorId"] == "x@example.org"
    assert "invitedActorId" not in client.data(listing(client, token, user="bob"))[4]
    assert [p["userId"] for p in client.data(listing(client, token, version="v2"))] == [
        "alice",
        "bob",
        "erin",
    ]


def test_stale_sessions_and_transient_attendees_are_dropped(make_client):
    clock = [1_900_000_000]
    client = make_client(clock=lambda: clock[0])
    for uid in ("alice", "mallory"):
        client.add_user(uid, "pw")
    token = create(client, "alice", roomType=3, roomName="P")["token"]
    Guest(client.app).join(token)
    Guest(client.app, user="mallory").join(token)
    moderator_guest = Guest(client.app)
    moderator_guest.join(token)
    guest_id = moderator_guest.call("GET", f"/room/{token}").json["ocs"]["data"]["attendeeId"]
    client.ocs("POST", api() + f"/room/{token}/moderators", user="alice", form={"attendeeId": guest_id})
    assert len(client.data(listing(client, token))) == 4
    clock[0] += 101
    data = client.data(listing(client, token))
    assert [(p["actorType"], p["participantType"], p["sessionIds"]) for p in data] == [
        ("users", 1, []),
        ("guests", 6, []),
    ]
    assert TalkSession.select().count() == 0


def test_lobby_and_guest_listing_rules(team):
    client, token = team
    guest = Guest(client.app)
    guest.join(token)
    r = guest.call("GET", f"/room/{token}/participants")
    assert r.status_int == 403 and r.json["ocs"]["data"] is None
    client.ocs("PUT", api() + f"/room/{token}/webinar/lobby", user="alice", form={"state": 1})
    r = listing(client, token, user="bob")
    assert r.status_int == 412 and client.data(r) == []
    assert guest.call("GET", f"/room/{token}/participants").status_int == 412  # lobby first
    assert listing(client, token).status_int == 200
    # joining still works in the lobby, and bit 8 lets a user in
    assert Guest(client.app, user="bob").join(token).status_int == 200
    set_permissions(client, token, "bob", "add", 8)
    assert listing(client, token, user="bob").status_int == 200
    assert listing(client, token, user="carol").status_int == 404


@pytest.mark.parametrize(
    ("source", "new", "status", "data"),
    [
        ("users", "carol", 200, []),
        ("users", "ghost", 404, {"error": "new-participant"}),
        ("groups", "nogroup", 404, {"error": "new-participant"}),
        ("emails", "not an address", 400, {"error": "new-participant"}),
        ("circles", "team", 400, {"error": "new-participant"}),
        ("teams", "team", 400, {"error": "new-participant"}),
        ("federated_users", "x@remote", 501, {"error": "federation"}),
        ("phones", "+123", 501, {"error": "sip"}),
        ("robots", "x", 400, {"error": "source"}),
        ("", "carol", 400, {"error": "source"}),
    ],
)
def test_add_participant_sources(team, source, new, status, data):
    client, token = team
    r = client.ocs(
        "POST",
        api() + f"/room/{token}/participants",
        user="alice",
        form={"newParticipant": new, "source": source},
    )
    assert (r.status_int, client.data(r)) == (status, data)


def test_add_group_and_email_and_self_joined_upgrade(team):
    client, token = team
    group_room = create(client, "alice", roomName="G")["token"]
    client.add_user("erin", "pw", groups=["staff"])
    client.add_user("fred", "pw", groups=["staff"])
    r = client.ocs(
        "POST",
        api() + f"/room/{group_room}/participants",
        user="alice",
        form={"newParticipant": "staff", "source": "groups"},
    )
    assert client.data(r) == []
    assert attendees(group_room)[1:] == [("groups", "staff", 3), ("users", "erin", 3), ("users", "fred", 3)]
    r = client.ocs(
        "POST",
        api() + f"/room/{group_room}/participants",
        user="alice",
        form={"newParticipant": "a@b.example", "source": "emails"},
    )
    assert client.data(r) == {"type": 3}
    assert Room.get(Room.token == group_room).type == 3
    Guest(client.app, user="dave").join(token)
    assert ("users", "dave", 5) in attendees(token)
    client.ocs("POST", api() + f"/room/{token}/participants", user="alice", form={"newParticipant": "dave"})
    assert ("users", "dave", 3) in attendees(token)
    one = create(client, "alice", roomType=1, invite="carol")["token"]
    client.ocs("GET", api() + f"/room/{one}", user="carol")  # C23: carol opens it and joins
    r = client.ocs("POST", api() + f"/room/{one}/participants", user="alice", form={"newParticipant": "dave"})
    assert r.status_int == 400 and client.data(r) == {"error": "room-type"}
    r = client.ocs("POST", api() + f"/room/{token}/participants", user="alice", form={"source": "users"})
    assert r.status_int == 400 and client.data(r) == {"error": "newParticipant"}


def test_group_membership_sync(team):
    client, token = team
    client.add_user("root", "pw", groups=["admin"])
    client.add_user("erin", "pw", groups=["staff", "crew"])
    client.ocs(
        "POST",
        api() + f"/room/{token}/participants",
        user="alice",
        form={"newParticipant": "staff", "source": "groups"},
    )
    client.ocs(
        "POST",
        api() + f"/room/{token}/participants",
        user="alice",
        form={"newParticipant": "crew", "source": "groups"},
    )
    client.ocs("POST", "/cloud/users/carol/groups", user="root", form={"groupid": "staff"})
    assert ("users", "carol", 3) in attendees(token)
    client.ocs("DELETE", "/cloud/users/carol/groups", user="root", form={"groupid": "staff"})
    assert ("users", "carol", 3) not in attendees(token)
    # erin is also in crew: leaving staff keeps her
    client.ocs("DELETE", "/cloud/users/erin/groups", user="root", form={"groupid": "staff"})
    assert ("users", "erin", 3) in attendees(token)
    client.ocs("PUT", "/cloud/groups/crew", user="root", form={"key": "displayname", "value": "The Crew"})
    assert Attendee.get(Attendee.actor_id == "crew").display_name == "The Crew"
    client.ocs("DELETE", "/cloud/groups/crew", user="root")
    assert [a for a in attendees(token) if a[1] in ("crew", "erin")] == []


def test_remove_attendee_rules(team):
    client, token = team
    for uid in ("carol", "dave"):
        client.ocs("POST", api() + f"/room/{token}/participants", user="alice", form={"newParticipant": uid})
    set_type(token, "bob", 2)
    r = client.ocs(
        "DELETE", api() + f"/room/{token}/attendees", user="bob", form={"attendeeId": aid(token, "alice")}
    )
    assert r.status_int == 403 and client.data(r) == {"error": "owner"}
    r = client.ocs(
        "DELETE", api() + f"/room/{token}/attendees", user="bob", form={"attendeeId": aid(token, "carol")}
    )
    assert r.status_int == 200 and client.data(r) is None
    r = client.ocs("DELETE", api() + f"/room/{token}/attendees", user="bob", form={"attendeeId": 999999})
    assert r.status_int == 404 and client.data(r) == {"error": "participant"}
    r = client.ocs(
        "DELETE", api("v3") + f"/room/{token}/attendees", user="bob", form={"attendeeId": aid(token, "dave")}
    )
    assert r.status_int == 200 and client.data(r) == []
    assert [a[1] for a in attendees(token)] == ["alice", "bob"]
    assert (
        meta(
            client.ocs("DELETE", api("v2") + f"/room/{token}/attendees", user="bob", form={"attendeeId": 1})
        )["statuscode"]
        == 998
    )


def test_removing_a_group_attendee_removes_its_members(team):
    client, token = team
    client.add_user("erin", "pw", groups=["staff"])
    client.ocs(
        "POST",
        api() + f"/room/{token}/participants",
        user="alice",
        form={"newParticipant": "staff", "source": "groups"},
    )
    client.ocs(
        "DELETE", api() + f"/room/{token}/attendees", user="alice", form={"attendeeId": aid(token, "staff")}
    )
    assert [a[1] for a in attendees(token)] == ["alice", "bob"]


def test_v3_removal_by_user_id_and_guest_session(team):
    client, token = team
    guest = Guest(client.app)
    session_id = guest.join(token).json["ocs"]["data"]["sessionId"]
    r = client.ocs(
        "DELETE", api("v3") + f"/room/{token}/participants", user="bob", form={"participant": "alice"}
    )
    assert r.status_int == 403
    r = client.ocs(
        "DELETE",
        api("v3") + f"/room/{token}/participants/guests",
        user="alice",
        form={"participant": session_id},
    )
    assert r.status_int == 200 and client.data(r) == []
    assert [a[0] for a in attendees(token)] == ["users", "users"]
    r = client.ocs(
        "DELETE", api("v2") + f"/room/{token}/participants", user="alice", form={"participant": "bob"}
    )
    assert r.status_int == 200
    assert [a[1] for a in attendees(token)] == ["alice"]


def test_leaving(team):
    client, token = team
    r = client.ocs("DELETE", api() + f"/room/{token}/participants/self", user="alice")
    assert r.status_int == 400 and client.data(r) == {"error": "last-moderator"}
    assert client.ocs("DELETE", api() + f"/room/{token}/participants/self", user="bob").status_int == 200
    # the owner alone: leaving deletes the room
    assert client.ocs("DELETE", api() + f"/room/{token}/participants/self", user="alice").status_int == 200
    assert Room.get_or_none(Room.token == token) is None
    one = create(client, "alice", roomType=1, invite="bob")["token"]
    client.ocs("GET", api() + f"/room/{one}", user="bob")  # C23: bob opens it and joins
    assert client.ocs("DELETE", api() + f"/room/{one}/participants/self", user="alice").status_int == 200
    assert [a[1] for a in attendees(one)] == ["bob"]
    assert (
        client.ocs(
            "POST", api() + "/room", user="alice", json_body={"roomType": 1, "invite": "bob"}
        ).status_int
        == 200
    )
    assert [a[1] for a in attendees(one)] == ["bob", "alice"]
    guest = Guest(client.app)
    public = create(client, "alice", roomType=3, roomName="P")["token"]
    guest.join(public)
    assert guest.call("DELETE", f"/room/{public}/participants/self").status_int == 401


@pytest.mark.parametrize(
    ("caller", "caller_type", "target_type", "promote", "ptype", "status", "data", "result"),
    [
        ("alice", 1, 3, True, None, 200, None, 2),
        ("alice", 1, 5, True, None, 200, None, 2),
        ("alice", 1, 2, True, None, 400, {"error": "type"}, 2),
        ("alice", 1, 3, True, 1, 200, None, 1),
        ("alice", 1, 2, False, None, 200, None, 3),
        ("alice", 1, 3, False, None, 400, {"error": "type"}, 3),
        ("alice", 1, 1, False, None, 400, {"error": "type"}, 1),
        ("alice", 1, 1, False, 2, 200, None, 2),
        ("alice", 1, 3, True, 3, 400, {"error": "participant-type"}, 3),
        ("bob", 2, 1, False, 3, 403, {"error": "moderator"}, 1),
        ("bob", 2, 3, True, 1, 403, {"error": "moderator"}, 3),
        ("bob", 3, 3, True, None, 403, [], 3),
    ],
)
def test_promote_demote(team, caller, caller_type, target_type, promote, ptype, status, data, result):
    client, token = team
    client.ocs("POST", api() + f"/room/{token}/participants", user="alice", form={"newParticipant": "carol"})
    set_type(token, "carol", target_type)
    if caller == "bob":
        set_type(token, "bob", caller_type)
    form = {"attendeeId": aid(token, "carol")}
    if ptype is not None:
        form["participantType"] = ptype
    r = client.ocs(
        "POST" if promote else "DELETE", api() + f"/room/{token}/moderators", user=caller, form=form
    )
    assert (r.status_int, client.data(r)) == (status, data)
    assert Attendee.get_by_id(aid(token, "carol")).participant_type == result


def test_promote_demote_special_cases(team):
    client, token = team
    r = client.ocs(
        "POST", api() + f"/room/{token}/moderators", user="alice", form={"attendeeId": aid(token, "alice")}
    )
    assert r.status_int == 403 and client.data(r) == {"error": "self"}
    set_type(token, "bob", 2)
    # an owner may step down to moderator; the last moderator may not go
    r = client.ocs(
        "DELETE",
        api() + f"/room/{token}/moderators",
        user="alice",
        form={"attendeeId": aid(token, "alice"), "participantType": 2},
    )
    assert r.status_int == 200
    set_type(token, "alice", 3)
    r = client.ocs(
        "DELETE", api() + f"/room/{token}/moderators", user="bob", form={"attendeeId": aid(token, "bob")}
    )
    assert r.status_int == 403 and client.data(r) == {"error": "self"}
    guest = Guest(client.app)
    guest.join(token)
    guest_aid = guest.call("GET", f"/room/{token}").json["ocs"]["data"]["attendeeId"]
    assert (
        client.ocs(
            "POST", api() + f"/room/{token}/moderators", user="bob", form={"attendeeId": guest_aid}
        ).status_int
        == 200
    )
    assert Attendee.get_by_id(guest_aid).participant_type == 6
    # v1/v2 address people by user id or session id
    assert (
        client.ocs(
            "POST", api("v2") + f"/room/{token}/moderators", user="bob", form={"participant": "alice"}
        ).status_int
        == 200
    )
    assert Attendee.get_by_id(aid(token, "alice")).participant_type == 2
    client.add_user("erin", "pw", groups=["staff"])
    client.ocs(
        "POST",
        api() + f"/room/{token}/participants",
        user="bob",
        form={"newParticipant": "staff", "source": "groups"},
    )
    r = client.ocs(
        "POST", api() + f"/room/{token}/moderators", user="bob", form={"attendeeId": aid(token, "staff")}
    )
    assert r.status_int == 400 and client.data(r) == {"error": "actor-type"}
    one = create(client, "alice", roomType=1, invite="carol")["token"]
    client.ocs("GET", api() + f"/room/{one}", user="carol")  # C23: carol opens it and joins
    r = client.ocs(
        "POST", api() + f"/room/{one}/moderators", user="alice", form={"attendeeId": aid(one, "carol")}
    )
    assert r.status_int == 400
    r = client.ocs(
        "DELETE", api() + f"/room/{one}/moderators", user="alice", form={"attendeeId": aid(one, "carol")}
    )
    assert r.status_int == 400


@pytest.mark.parametrize(
    ("method", "value", "before", "expected"),
    [
        ("set", 8, 0, 9),
        ("set", 0, 9, 0),
        ("add", 8, 0, 502 | 8 | 1),
        ("add", 16, 129, 145),
        ("remove", 128, 0, (502 & ~128) | 1),
        ("remove", 128, 129, 0),
    ],
)
def test_attendee_permissions(team, method, value, before, expected):
    client, token = team
    Attendee.update(permissions=before).where(Attendee.id == aid(token, "bob")).execute()
    r = set_permissions(client, token, "bob", method, value)
    assert r.status_int == 200
    assert [p["actorId"] for p in client.data(r)] == ["bob"]
    assert Attendee.get_by_id(aid(token, "bob")).permissions == expected


def test_promotion_clears_custom_permissions(team):
    """Custom permissions, promote, demote: the room's default permissions apply again (Talk)."""
    client, token = team
    assert set_permissions(client, token, "bob", "set", 8).status_int == 200
    assert Attendee.get_by_id(aid(token, "bob")).permissions == 9

    def bob_in_list():
        rows = client.data(listing(client, token))
        return next(p for p in rows if p["actorId"] == "bob")

    assert bob_in_list()["permissions"] == 9
    form = {"attendeeId": aid(token, "bob")}
    r = client.ocs("POST", api() + f"/room/{token}/moderators", user="alice", form=form)
    assert r.status_int == 200
    assert Attendee.get_by_id(aid(token, "bob")).permissions == 0
    r = client.ocs("DELETE", api() + f"/room/{token}/moderators", user="alice", form=form)
    assert r.status_int == 200
    assert Attendee.get_by_id(aid(token, "bob")).permissions == 0
    assert bob_in_list()["participantType"] == 3
    assert bob_in_list()["permissions"] == 502  # the room default (built-in), not the custom 9


def test_attendee_permission_errors(team):
    client, token = team
    r = set_permissions(client, token, "alice", "set", 8)
    assert r.status_int == 403 and client.data(r) == {"error": "moderator"}
    r = set_permissions(client, token, "bob", "toggle", 8)
    assert r.status_int == 400 and client.data(r) == {"error": "method"}
    r = set_permissions(client, token, "bob", "set", 600)
    assert r.status_int == 400 and client.data(r) == {"error": "value"}
    r = client.ocs(
        "PUT",
        api() + f"/room/{token}/attendees/permissions/all",
        user="alice",
        form={"method": "set", "permissions": 8},
    )
    assert r.status_int == 400 and client.data(r) is None
    Guest(client.app, user="dave").join(token)
    set_permissions(client, token, "dave", "set", 8)
    assert ("users", "dave", 3) in attendees(token)  # a self-joined user becomes a member


def test_guest_names(team):
    client, token = team
    guest = Guest(client.app)
    guest.join(token)
    r = guest.call("POST", f"/guest/{token}/name", version="v1", form={"displayName": "  Gus  "})
    assert r.status_int == 200 and r.json["ocs"]["data"] is None
    assert Attendee.get(Attendee.actor_type == "guests").display_name == "Gus"
    r = guest.call("POST", f"/guest/{token}/name", version="v1", form={"displayName": "x" * 65})
    assert r.status_int == 400 and r.json["ocs"]["data"] == {"error": "value"}
    r = client.ocs("POST", api("v1") + f"/guest/{token}/name", user="bob", form={"displayName": "Bob"})
    assert r.status_int == 403 and client.data(r) is None
    assert (
        Guest(client.app)
        .call("POST", f"/guest/{token}/name", version="v1", form={"displayName": "x"})
        .status_int
        == 404
    )
    assert (
        meta(guest.call("POST", f"/guest/{token}/name", version="v4", form={"displayName": "x"}))[
            "statuscode"
        ]
        == 998
    )


def test_signaling_settings(make_client):
    client = make_client({"talk": {"stun_servers": ["stun.example.org:443"], "hide_signaling_warning": True}})
    client.add_user("alice", "pw")
    client.add_user("mallory", "pw")
    public = create(client, "alice", roomType=3, roomName="P")["token"]
    for version in ("v1", "v2", "v3"):
        data = client.data(client.ocs("GET", api(version) + "/signaling/settings", user="alice"))
        assert data == {
            "signalingMode": "internal",
            "userId": "alice",
            "hideWarning": True,
            "server": "",
            "federation": None,
            "stunservers": [{"urls": ["stun:stun.example.org:443"]}],
            "turnservers": [],
            "sipDialinInfo": "",
        }
    assert meta(client.ocs("GET", api() + "/signaling/settings", user="alice"))["statuscode"] == 998
    r = client.ocs("GET", api("v3") + "/signaling/settings")
    assert r.status_int == 404 and client.data(r) is None
    assert (
        client.ocs(
            "GET", api("v3") + "/signaling/settings", user="alice", params={"token": public}
        ).status_int
        == 200
    )
    r = client.ocs("GET", api("v3") + "/signaling/settings", user="mallory", params={"token": public})
    assert r.status_int == 404 and client.data(r) is None
    guest = Guest(client.app)
    guest.join(public)
    r = guest.test.get(
        f"/ocs/v2.php{api('v3')}/signaling/settings?format=json&token={public}",
        headers={"OCS-APIRequest": "true"},
    )
    assert r.json["ocs"]["data"]["userId"] is None
