"""The room-list cache is always current: every kind of write that changes a room object, made
through one app (another worker or app server), shows in the very next ``GET /room`` served by
another app whose cache held the old list. The answer is compared byte for byte with an app
without the cache, which serializes every room on every request as before the cache existed.
"""

from __future__ import annotations

import pytest

from tests.talk import api, create

USERS = ("alice", "bob", "carol")
SHAPES = (  # (Talk API version, format, query); "ocs1" is the OCS v1 envelope
    ("v4", "json", {}),
    ("v4", "xml", {}),
    ("v3", "json", {}),
    ("v3", "xml", {}),
    ("v2", "json", {}),
    ("v4", "json", {"includeLastMessage": "false"}),
    ("v4", "json", {"ocs1": 1}),
    ("v2", "xml", {"ocs1": 1}),
)
QUICK = (("v4", "json", {}), ("v3", "xml", {"ocs1": 1}))  # per write; every shape is checked below


class World:
    """A writer, a caching reader and an uncached reference, one database and one clock."""

    def __init__(self, make_client):
        self.clock = [1_800_000_000]
        clock = self.clock

        def app(cache_mb: int):
            # verify off: the reader must answer what production answers
            talk = {"room_list_cache_mb": cache_mb, "room_list_cache_verify": False}
            return make_client({"talk": talk}, clock=lambda: clock[0])

        self.writer = app(16)
        self.reader = app(16)
        self.reference = app(0)
        self.writer.add_user("root", "rootpw", display_name="Root", groups=["admin"])
        for uid in USERS:
            self.writer.add_user(uid, "pw", display_name=uid.title())
        for client in (self.reader, self.reference):
            client.passwords.update(self.writer.passwords)

    def ocs(self, method, path, user, **kwargs):
        r = self.writer.ocs(method, path, user=user, **kwargs)
        assert r.status_int < 300, r.text
        return r

    def talk(self, method, path, user, **kwargs):
        return self.ocs(method, api() + path, user, **kwargs)

    def listing(self, client, user, version="v4", fmt="json", headers=None, ocs1=0, **params):
        r = client.ocs(
            "GET",
            api(version) + "/room",
            user=user,
            fmt=fmt,
            params=params,
            headers=headers,
            v=1 if ocs1 else 2,
        )
        assert r.status_int == 200, r.text
        return r.body

    def lists(self, client, users=USERS, shapes=QUICK) -> dict:
        return {(u, v, f, str(p)): self.listing(client, u, v, f, **p) for u in users for v, f, p in shapes}

    def assert_current(self, users=USERS, shapes=QUICK) -> dict:
        cached = self.lists(self.reader, users, shapes)
        assert cached == self.lists(self.reference, users, shapes)
        return cached


@pytest.fixture
def world(make_client):
    w = World(make_client)
    w.room = create(w.writer, "alice", roomName="Team", participants={"users": ["bob", "carol"]})["token"]
    w.one = create(w.writer, "alice", roomType=1, invite="bob")["token"]
    chat(w, w.one, "alice", "hi Bob")  # bob joins the one-to-one with its first message (C23)
    return w


def chat(w, token, user, text):
    r = w.writer.ocs("POST", api("v1") + f"/chat/{token}", user=user, form={"message": text})
    assert r.status_int == 201, r.text
    return w.writer.data(r)["id"]


def attendee_id(w, token, uid):
    rows = w.writer.data(w.writer.ocs("GET", api() + f"/room/{token}/participants", user="alice"))
    return next(p["attendeeId"] for p in rows if p["actorId"] == uid)


def writes():
    """(name, users whose list must change, the write)"""

    def rename(w):
        w.talk("PUT", f"/room/{w.room}", "alice", form={"roomName": "Renamed"})

    def description(w):
        w.talk("PUT", f"/room/{w.room}/description", "alice", form={"description": "New words"})

    def read_only(w):
        w.talk("PUT", f"/room/{w.room}/read-only", "alice", form={"state": 1})

    def public(w):
        w.talk("POST", f"/room/{w.room}/public", "alice")

    def listable(w):
        w.talk("PUT", f"/room/{w.room}/listable", "alice", form={"scope": 1})

    def favorite(w):
        w.talk("POST", f"/room/{w.room}/favorite", "bob")

    def archive(w):
        w.talk("POST", f"/room/{w.room}/archive", "bob")

    def notify(w):
        w.talk("POST", f"/room/{w.room}/notify", "bob", form={"level": 1})

    def default_permissions(w):
        w.talk("PUT", f"/room/{w.room}/permissions/default", "alice", form={"permissions": 9})

    def attendee_permissions(w):
        w.talk(
            "PUT",
            f"/room/{w.room}/attendees/permissions",
            "alice",
            form={"attendeeId": attendee_id(w, w.room, "bob"), "method": "set", "permissions": 9},
        )

    def promote(w):
        w.talk(
            "POST", f"/room/{w.room}/moderators", "alice", form={"attendeeId": attendee_id(w, w.room, "bob")}
        )

    def add_member(w):
        w.writer.add_user("dave", "pw", display_name="Dave")
        w.reader.passwords["dave"] = w.reference.passwords["dave"] = "pw"
        w.talk(
            "POST",
            f"/room/{w.room}/participants",
            "alice",
            form={"newParticipant": "dave", "source": "users"},
        )

    def remove_member(w):
        w.talk(
            "DELETE",
            f"/room/{w.room}/attendees",
            "alice",
            form={"attendeeId": attendee_id(w, w.room, "carol")},
        )

    def leave(w):
        w.talk("DELETE", f"/room/{w.room}/participants/self", "carol")

    def delete_room(w):
        w.talk("DELETE", f"/room/{w.room}", "alice")

    def lobby(w):
        w.talk("PUT", f"/room/{w.room}/webinar/lobby", "alice", form={"state": 1})

    def message_expiration(w):
        w.talk("POST", f"/room/{w.room}/message-expiration", "alice", form={"seconds": 3600})

    def avatar(w):
        w.ocs("POST", api("v1") + f"/room/{w.room}/avatar/emoji", "alice", form={"emoji": "🚀"})

    def message(w):
        chat(w, w.room, "carol", "hello @bob")

    def reaction(w):
        message_id = chat(w, w.room, "carol", "react to me")
        w.lists(w.reader)  # cached with the message
        w.ocs("POST", api("v1") + f"/reaction/{w.room}/{message_id}", "bob", form={"reaction": "👍"})

    def edit(w):
        message_id = chat(w, w.room, "carol", "first words")
        w.lists(w.reader)
        w.ocs("PUT", api("v1") + f"/chat/{w.room}/{message_id}", "carol", form={"message": "second words"})

    def delete_message(w):
        message_id = chat(w, w.room, "carol", "soon gone")
        w.lists(w.reader)
        w.ocs("DELETE", api("v1") + f"/chat/{w.room}/{message_id}", "carol")

    def read_marker(w):
        message_id = chat(w, w.room, "carol", "unread for bob")
        w.lists(w.reader)
        w.ocs("POST", api("v1") + f"/chat/{w.room}/read", "bob", form={"lastReadMessage": message_id})

    def clear_history(w):
        chat(w, w.room, "carol", "history")
        w.lists(w.reader)
        w.ocs("DELETE", api("v1") + f"/chat/{w.room}", "alice")

    def display_name(w):
        w.ocs("PUT", "/cloud/users/bob", "root", form={"key": "displayname", "value": "Robert"})

    def group_sync(w):
        w.ocs("POST", "/cloud/groups", "root", form={"groupid": "crew"})
        w.talk(
            "POST",
            f"/room/{w.room}/participants",
            "alice",
            form={"newParticipant": "crew", "source": "groups"},
        )
        w.writer.add_user("erin", "pw", display_name="Erin")
        w.reader.passwords["erin"] = w.reference.passwords["erin"] = "pw"
        w.lists(w.reader)
        w.ocs("POST", "/cloud/users/erin/groups", "root", form={"groupid": "crew"})

    def user_deleted(w):
        w.ocs("DELETE", "/cloud/users/carol", "root")

    return [
        ("rename", ("alice", "bob", "carol"), rename),
        ("description", ("alice", "bob", "carol"), description),
        ("read-only", ("alice", "bob", "carol"), read_only),
        ("public", ("alice", "bob", "carol"), public),
        ("listable", ("alice", "bob", "carol"), listable),
        ("favorite", ("bob",), favorite),
        ("archive", ("bob",), archive),
        ("notification level", ("bob",), notify),
        ("default permissions", ("bob", "carol"), default_permissions),
        ("attendee permissions", ("bob",), attendee_permissions),
        ("promote", ("bob",), promote),
        ("add member", ("alice", "bob", "carol"), add_member),
        ("remove member", ("alice", "carol"), remove_member),
        ("leave", ("alice", "carol"), leave),
        ("delete room", ("alice", "bob", "carol"), delete_room),
        ("lobby", ("bob", "carol"), lobby),
        ("message expiration", ("alice", "bob", "carol"), message_expiration),
        ("avatar", ("alice", "bob", "carol"), avatar),
        ("new message", ("alice", "bob", "carol"), message),
        ("reaction", ("alice", "bob", "carol"), reaction),
        ("edit", ("alice", "bob", "carol"), edit),
        ("delete message", ("alice", "bob", "carol"), delete_message),
        ("read marker", ("bob",), read_marker),
        ("clear history", ("alice", "bob", "carol"), clear_history),
        ("display name", ("alice",), display_name),
        ("group sync", ("alice", "bob", "carol"), group_sync),
        ("user deleted", ("alice", "bob"), user_deleted),
    ]


@pytest.mark.parametrize("name, changed, write", writes(), ids=[w[0] for w in writes()])
def test_every_write_is_seen_by_the_next_request_of_another_app(world, name, changed, write):
    before = world.assert_current()
    write(world)
    after = world.assert_current([u for u in USERS if not (name == "user deleted" and u == "carol")])
    for uid in changed:
        assert after[(uid, "v4", "json", "{}")] != before[(uid, "v4", "json", "{}")], (name, uid)


def test_lobby_timer_ending_by_the_clock(world):
    w = world
    w.talk("PUT", f"/room/{w.room}/webinar/lobby", "alice", form={"state": 1, "timer": w.clock[0] + 60})
    before = w.assert_current()
    w.clock[0] += 59
    assert w.assert_current() == before
    w.clock[0] += 2
    after = w.assert_current()
    assert b'"lobbyState":0' in after[("bob", "v4", "json", "{}")]
    assert after[("bob", "v4", "json", "{}")] != before[("bob", "v4", "json", "{}")]


def test_message_expiring_by_the_clock(world):
    w = world
    w.talk("POST", f"/room/{w.room}/message-expiration", "alice", form={"seconds": 3600})
    chat(w, w.room, "carol", "this goes away")
    before = w.assert_current()
    assert b"this goes away" in before[("bob", "v4", "json", "{}")]
    w.clock[0] += 3599
    assert w.assert_current() == before
    w.clock[0] += 2
    after = w.assert_current()
    assert b"this goes away" not in after[("bob", "v4", "json", "{}")]


def test_session_join_and_leave_show_in_the_callers_list(world):
    """The caller's own ``sessionId`` comes with their cookie: such a request is answered
    without the cache (and others' lists do not change)."""
    w = world
    w.assert_current()
    joined = w.writer.ocs("POST", api() + f"/room/{w.room}/participants/active", user="bob")
    assert joined.status_int == 200, joined.text
    session = w.writer.data(joined)["sessionId"]
    cookie = {"Cookie": joined.headers["Set-Cookie"].split(";")[0]}
    mine = w.listing(w.reader, "bob", headers=cookie)
    assert mine == w.listing(w.reference, "bob", headers=cookie)
    assert f'"sessionId":"{session}"'.encode() in mine
    w.assert_current()  # without the cookie: unchanged, and current
    left = w.writer.ocs("DELETE", api() + f"/room/{w.room}/participants/active", user="bob", headers=cookie)
    assert left.status_int == 200, left.text
    mine = w.listing(w.reader, "bob", headers=cookie)
    assert session.encode() not in mine and mine == w.listing(w.reference, "bob", headers=cookie)


def test_modified_since_and_include_status_filter_the_cached_list(world):
    w = world
    w.clock[0] += 100
    w.talk("PUT", f"/room/{w.room}", "alice", form={"roomName": "Later"})
    for params in ({"modifiedSince": w.clock[0]}, {"modifiedSince": w.clock[0], "includeStatus": "true"}):
        w.listing(w.reader, "bob", **params)  # the second read is served from the cache
        cached = w.listing(w.reader, "bob", **params)
        assert cached == w.listing(w.reference, "bob", **params)
    rooms = w.reader.data(
        w.reader.ocs("GET", api() + "/room", user="bob", params={"modifiedSince": w.clock[0]})
    )
    assert [r["token"] for r in rooms] == [w.room]
    rooms = w.reader.data(
        w.reader.ocs(
            "GET", api() + "/room", user="bob", params={"modifiedSince": w.clock[0], "includeStatus": "true"}
        )
    )
    assert sorted(r["token"] for r in rooms) == sorted([w.room, w.one])


def test_cache_is_bounded_and_can_be_switched_off(make_client):
    client = make_client({"talk": {"room_list_cache_mb": 1, "room_list_cache_verify": False}})
    cache = client.app.platform.conversations.list_cache
    for i in range(40):
        uid = f"user{i}"
        client.add_user(uid, "pw")
        for n in range(8):
            create(client, uid, roomName=f"A room with a long name {n} " + "x" * 200, description="d" * 1900)
        client.ocs("GET", api() + "/room", user=uid)
    assert 0 < cache._bytes <= cache.max_bytes
    assert len(cache._entries) < 40
    off = make_client({"talk": {"room_list_cache_mb": 0}})
    off.passwords.update(client.passwords)
    off.ocs("GET", api() + "/room", user="user0")
    assert (
        off.app.platform.conversations.list_cache.hits == 0
        and not off.app.platform.conversations.list_cache._entries
    )


def test_cached_answers_are_the_uncached_bytes_in_every_shape(world):
    """Talk API v2–v4, JSON and XML, both OCS envelopes, includeLastMessage: cached, after a
    change and cached again, each answer is the old serializer's bytes."""
    w = world
    w.assert_current(shapes=SHAPES)
    chat(w, w.room, "carol", "<b>tags</b> & ünïcode 🎉 @bob")
    w.talk("PUT", f"/room/{w.room}", "alice", form={"roomName": "Ärger & <Freude>"})
    w.assert_current(shapes=SHAPES)
    assert w.assert_current(shapes=SHAPES) == w.lists(w.reference, shapes=SHAPES)
