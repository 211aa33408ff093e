"""Joining and leaving (``participants.md`` §8–§9), cookie sessions (``security.md`` §5)."""

from __future__ import annotations

import hashlib

import pytest

from ocs.throttle import BruteforceAttempt
from participants.models import TalkSession, WebSession
from tests.participants_helpers import Guest, attendees
from tests.talk import api, create


@pytest.fixture
def rooms(client):
    for uid in ("alice", "bob", "mallory"):
        client.add_user(uid, "pw", display_name=uid.title())
    public = create(client, "alice", roomType=3, roomName="Open", participants={"users": ["bob"]})["token"]
    locked = create(
        client, "alice", roomType=3, roomName="Locked", password="secret", participants={"users": ["bob"]}
    )["token"]
    group = create(client, "alice", roomName="Group", participants={"users": ["bob"]})["token"]
    return client, public, locked, group


def join(client, token, user, **form):
    return client.ocs("POST", api() + f"/room/{token}/participants/active", user=user, form=form or None)


def test_guest_join_and_identity(rooms):
    client, public, _, _ = rooms
    guest = Guest(client.app)
    r = guest.join(public)
    assert r.status_int == 200
    data = r.json["ocs"]["data"]
    assert data["participantType"] == 4 and data["actorType"] == "guests"
    assert len(data["sessionId"]) == 255
    assert data["actorId"] == hashlib.sha1(data["sessionId"].encode()).hexdigest()
    cookie = guest.cookie()
    assert cookie and len(cookie) == 43
    set_cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/" in set_cookie
    assert "Secure" not in set_cookie and "Expires" not in set_cookie
    # the guest is recognised on later reads
    seen = guest.call("GET", f"/room/{public}").json["ocs"]["data"]
    assert seen["sessionId"] == data["sessionId"] and seen["attendeeId"] == data["attendeeId"]
    # only the hash of the cookie value is stored
    assert WebSession.select().count() == 1
    assert WebSession.get().key_hash == hashlib.sha256(cookie.encode()).hexdigest()


def test_rejoin_keeps_the_guest_identity_and_replaces_the_session(rooms):
    client, public, _, _ = rooms
    guest = Guest(client.app)
    first = guest.join(public).json["ocs"]["data"]
    second = guest.join(public).json["ocs"]["data"]
    assert second["actorId"] == first["actorId"] and second["sessionId"] != first["sessionId"]
    assert TalkSession.select().count() == 1


def test_who_joins_as_what(rooms):
    client, public, _, group = rooms
    assert client.data(join(client, public, "bob"))["participantType"] == 3
    assert client.data(join(client, public, "mallory"))["participantType"] == 5
    assert join(client, group, "mallory").status_int == 404
    assert Guest(client.app).join(group).status_int == 404
    assert client.data(join(client, group, "bob"))["participantType"] == 3
    client.ocs("PUT", api() + f"/room/{group}/listable", user="alice", form={"scope": 1})
    assert client.data(join(client, group, "mallory"))["participantType"] == 3  # listable: a member
    assert ("users", "mallory", 3) in attendees(group)


def test_join_404_is_null_and_throttled(rooms):
    client, *_ = rooms
    r = join(client, "nosuchroom", "bob")
    assert r.status_int == 404 and client.data(r) is None
    assert BruteforceAttempt.select().where(BruteforceAttempt.action == "talkRoomToken").count() == 1


def test_password_rules(rooms):
    client, _, locked, _ = rooms
    guest = Guest(client.app)
    r = guest.join(locked)
    assert r.status_int == 403 and r.json["ocs"]["data"] == {"error": "password"}
    assert guest.join(locked, "wrong").status_int == 403
    before = guest.cookie()
    assert guest.join(locked, "secret").status_int == 200
    assert guest.cookie() != before or before is None
    # the same guest rejoins without the password
    assert guest.join(locked).status_int == 200
    # attendees never give it; strangers must
    assert join(client, locked, "bob").status_int == 200
    assert join(client, locked, "mallory").status_int == 403
    assert client.data(join(client, locked, "mallory", password="secret"))["participantType"] == 5
    # a guest identity of one room never skips the password of another
    other = create(client, "alice", roomType=3, roomName="Other", password="other")["token"]
    assert guest.join(other).status_int == 403


def test_cookie_rotates_after_password_join(rooms):
    client, public, locked, _ = rooms
    guest = Guest(client.app)
    assert guest.join(public).status_int == 200
    old = guest.cookie()
    assert guest.join(locked, "secret").status_int == 200
    new = guest.cookie()
    assert new != old
    assert WebSession.get_or_none(WebSession.key_hash == hashlib.sha256(old.encode()).hexdigest()) is None
    # the rotated session still knows both rooms
    assert guest.call("GET", f"/room/{public}").json["ocs"]["data"]["sessionId"] != "0"


def test_wrong_passwords_are_throttled_and_a_right_one_resets(rooms):
    client, _, locked, _ = rooms
    guest = Guest(client.app)
    statuses = [guest.join(locked, f"wrong{i}").status_int for i in range(3)]
    assert statuses == [403, 403, 403]
    assert guest.join(locked, "secret").status_int == 200
    assert BruteforceAttempt.select().count() == 0
    other = Guest(client.app)
    statuses = [other.join(locked, f"bad{i}").status_int for i in range(12)]
    assert statuses == [403] * 10 + [429, 429]
    assert BruteforceAttempt.select().where(BruteforceAttempt.action == "talkRoomPassword").count() == 11


def test_password_is_checked_after_the_throttle(make_client):
    client = make_client()
    client.add_user("alice", "pw")
    locked = create(client, "alice", roomType=3, roomName="L", password="secret")["token"]
    passwords = client.app.platform.passwords
    guest = Guest(client.app)
    for i in range(11):
        guest.join(locked, f"bad{i}")
    before = passwords.verifications
    assert guest.join(locked, "secret").status_int == 429
    assert passwords.verifications == before


def test_leave_session(rooms):
    client, public, _, _ = rooms
    guest = Guest(client.app)
    guest.join(public)
    mallory = Guest(client.app, user="mallory")
    bob = Guest(client.app, user="bob")
    assert mallory.join(public).json["ocs"]["data"]["participantType"] == 5
    assert bob.join(public).status_int == 200
    assert guest.leave(public).json["ocs"]["data"] is None
    assert guest.leave(public).status_int == 200  # nothing left: still 200
    assert Guest(client.app).leave("nosuchroom").status_int == 200
    # self-joined users leave with their last session; invited users stay
    assert mallory.leave(public).status_int == 200
    assert bob.leave(public).status_int == 200
    assert [a[1] for a in attendees(public)] == ["alice", "bob"]
    assert TalkSession.select().count() == 0


def test_cookie_is_bound_to_its_principal(rooms):
    client, public, _, _ = rooms
    guest = Guest(client.app)
    guest.join(public)
    cookie = guest.cookie()
    # the same cookie presented by a logged-in user is ignored
    r = client.ocs(
        "GET", api() + f"/room/{public}", user="mallory", headers={"Cookie": f"ocs_talk_session={cookie}"}
    )
    assert client.data(r)["sessionId"] == "0" and client.data(r)["participantType"] == 4


def test_making_private_removes_guests_and_self_joined(rooms):
    client, public, _, _ = rooms
    guest = Guest(client.app)
    guest.join(public)
    join(client, public, "mallory")
    client.ocs("DELETE", api() + f"/room/{public}/public", user="alice")
    assert [a[1] for a in attendees(public)] == ["alice", "bob"]
    assert TalkSession.select().count() == 0
    assert guest.call("GET", f"/room/{public}").status_int == 404


def test_session_ping_refresh(make_client):
    clock = [1_900_000_000]
    client = make_client(clock=lambda: clock[0])
    client.add_user("alice", "pw")
    public = create(client, "alice", roomType=3, roomName="P")["token"]
    guest = Guest(client.app)
    guest.join(public)
    assert TalkSession.get().last_ping == clock[0]
    clock[0] += 20
    guest.call("GET", f"/room/{public}")
    assert TalkSession.get().last_ping == clock[0] - 20  # younger than 30 s: no write
    clock[0] += 20
    guest.call("GET", f"/room/{public}")
    assert TalkSession.get().last_ping == clock[0]


def test_session_state(rooms):
    client, public, _, _ = rooms
    guest = Guest(client.app)
    assert guest.call("PUT", f"/room/{public}/participants/state", form={"state": 0}).status_int == 404
    guest.join(public)
    r = guest.call("PUT", f"/room/{public}/participants/state", form={"state": 0})
    assert r.status_int == 200 and r.json["ocs"]["data"]["token"] == public
    assert TalkSession.get().state == 0
    r = guest.call("PUT", f"/room/{public}/participants/state", form={"state": 5})
    assert r.status_int == 400 and r.json["ocs"]["data"] is None


def test_tab_ids_namespace_sessions(rooms):
    client, public, _, _ = rooms
    guest = Guest(client.app)
    tab = "a" * 64
    r = guest.test.request(
        f"/ocs/v2.php{api()}/room/{public}/participants/active?format=json",
        method="POST",
        headers={"OCS-APIRequest": "true", "X-Nextcloud-Talk-Session-Tab-Id": tab},
    )
    assert r.json["ocs"]["data"]["sessionId"].endswith("$" + tab)
    # without the tab header the mapping is different: no session
    assert guest.call("GET", f"/room/{public}").json["ocs"]["data"]["sessionId"] == "0"


def test_deleting_a_user_drops_sessions_and_cookie_sessions(rooms):
    client, public, _, _ = rooms
    client.add_user("root", "pw", groups=["admin"])
    join(client, public, "mallory")
    assert TalkSession.select().count() == 1 and WebSession.select().count() == 1
    client.ocs("DELETE", "/cloud/users/mallory", user="root")
    assert TalkSession.select().count() == 0 and WebSession.select().count() == 0


def test_sessions_show_in_room_lists_and_v1_maps(rooms):
    client, public, _, _ = rooms
    bob = Guest(client.app, user="bob")
    session_id = bob.join(public).json["ocs"]["data"]["sessionId"]
    listed = {r["token"]: r for r in bob.call("GET", "/room").json["ocs"]["data"]}
    assert listed[public]["sessionId"] == session_id and listed[public]["lastPing"] > 0
    assert all(r["sessionId"] == "0" for t, r in listed.items() if t != public)
    guest = Guest(client.app)
    guest.join(public)
    v1 = client.data(client.ocs("GET", api("v1") + f"/room/{public}", user="alice"))
    assert v1["participants"]["bob"]["sessionId"] == session_id
    assert v1["participants"]["alice"]["sessionId"] == "0"
    assert list(v1["participants"])[0] == "bob"  # most recently pinged first
    assert v1["numGuests"] == 1
    listed_v1 = {r["token"]: r for r in client.data(client.ocs("GET", api("v1") + "/room", user="alice"))}
    assert listed_v1[public]["numGuests"] == 1
