"""``GET /room``: order, modifiedSince, headers, and a query count that does not grow."""

from __future__ import annotations

import pytest
from playhouse.test_utils import count_queries

from conversations.models import Attendee, Room
from ocs import db as dbm
from tests.talk import api, create


@pytest.fixture
def people(client):
    for uid in ("alice", "bob", "carol"):
        client.add_user(uid, "pw", display_name=uid.title())
    return client


def listing(client, user="alice", version="v4", **params):
    return client.ocs("GET", api(version) + "/room", user=user, params=params)


def test_order_is_join_order(people):
    a = create(people, "bob", roomName="B first", participants={"users": ["alice"]})
    b = create(people, "alice", roomName="A own")
    c = create(people, "carol", roomType=1, invite="alice")
    people.ocs("POST", api("v1") + f"/chat/{c['token']}", user="carol", form={"message": "hi"})  # C23
    tokens = [x["token"] for x in people.data(listing(people))]
    assert tokens == [a["token"], b["token"], c["token"]]


def test_modified_since(make_client):
    clock = [1_800_000_000]
    client = make_client(clock=lambda: clock[0])
    for uid in ("alice", "bob"):
        client.add_user(uid, "pw")
    old = create(client, "alice", roomName="Old")
    one = create(client, "alice", roomType=1, invite="bob")
    client.ocs("GET", api() + f"/room/{one['token']}", user="bob")  # C23: bob opens it and joins
    clock[0] += 100
    r = listing(client)
    before = int(r.headers["X-Nextcloud-Talk-Modified-Before"])
    assert before == clock[0]
    assert len(client.data(r)) == 2
    assert client.data(listing(client, modifiedSince=before)) == []
    clock[0] += 10
    client.ocs("PUT", api() + f"/room/{old['token']}", user="alice", params={"roomName": "Renamed"})
    assert [x["token"] for x in client.data(listing(client, modifiedSince=before))] == [old["token"]]
    # attendee-level changes count through lastAttendeeActivity
    clock[0] += 10
    mark = clock[0]
    client.ocs("POST", api() + f"/room/{one['token']}/favorite", user="alice")
    assert [x["token"] for x in client.data(listing(client, modifiedSince=mark))] == [one["token"]]
    assert [x["token"] for x in client.data(listing(client, user="bob", modifiedSince=mark))] == []
    # includeStatus always includes one-to-ones; a future value is fine
    got = client.data(listing(client, user="bob", modifiedSince=9992708529, includeStatus="true"))
    assert [x["token"] for x in got] == [one["token"]]
    assert client.data(listing(client, modifiedSince=9992708529)) == []
    assert listing(client, modifiedSince=-1).status_int == 400


@pytest.mark.parametrize("version", ["v1", "v2", "v3", "v4"])
def test_headers_on_every_version(people, version):
    r = listing(people, version=version)
    assert len(r.headers["X-Nextcloud-Talk-Hash"]) == 40
    assert int(r.headers["X-Nextcloud-Talk-Modified-Before"]) > 0
    assert people.data(r) == []


def add_chat(room, owner: str, partner: str, now: int) -> None:
    """A busy room: a guest, a message mentioning the owner and everybody, a reply by the guest,
    the owner's reaction, and a system message; the owner has read none of it."""
    import json

    from chat.models import ChatMessage

    guest = f"g{room.id:039d}"
    Attendee.create(
        room=room.id,
        actor_type="guests",
        actor_id=guest,
        display_name="Gus",
        participant_type=4,
        created_at=now,
    )
    meta = '{"can_mention_all":true}'
    first = ChatMessage.create(
        room=room.id,
        actor_type="users",
        actor_id=partner,
        verb="comment",
        message=f"hi @{owner} and @all",
        created_at=now,
        meta=meta,
        reactions='{"👍":1}',
    )
    reply = ChatMessage.create(
        room=room.id,
        actor_type="guests",
        actor_id=guest,
        verb="comment",
        message=f'@"guest/{guest}" says hi',
        parent_id=first.id,
        topmost_parent_id=first.id,
        created_at=now,
        meta="{}",
    )
    ChatMessage.create(
        room=room.id,
        actor_type="users",
        actor_id=owner,
        verb="reaction",
        message="👍",
        parent_id=first.id,
        created_at=now,
    )
    system = json.dumps({"message": "user_added", "parameters": {"user": {"type": "users", "id": partner}}})
    ChatMessage.create(
        room=room.id, actor_type="users", actor_id=owner, verb="system", message=system, created_at=now
    )
    last = reply if room.id % 2 else first
    Room.update(last_message_id=last.id).where(Room.id == room.id).execute()
    Attendee.update(last_mention_message=first.id, last_mention_direct=first.id).where(
        (Attendee.room == room.id) & (Attendee.actor_id == owner)
    ).execute()


def seed(owner: str, partner: str, count: int, chat: bool = False) -> None:
    """Fast fixture: ``count`` rooms of mixed types for ``owner`` (direct inserts)."""
    now = 1_700_000_000
    with dbm.write_tx():
        for i in range(count):
            kind = (2, 3, 1)[i % 3]
            key = f'["{owner}","{partner}{i}"]' if kind == 1 else None
            room = Room.create(
                token=f"t{owner}x{i:06d}",
                type=kind,
                name=f"room {i}" if kind != 1 else "",
                one_to_one_key=key,
                lobby_state=1 if i % 7 == 0 else 0,
                lobby_timer=now + 10**9 if i % 7 == 0 else None,
                last_activity=now,
                created_at=now,
            )
            Attendee.insert_many(
                [
                    {
                        "room": room.id,
                        "actor_type": "users",
                        "actor_id": owner,
                        "participant_type": 1,
                        "created_at": now,
                    },
                    {
                        "room": room.id,
                        "actor_type": "users",
                        "actor_id": f"{partner}{i}",
                        "participant_type": 3 if kind != 1 else 1,
                        "created_at": now,
                    },
                ]
            ).execute()
            if chat:
                add_chat(room, owner, f"{partner}{i}", now)


@pytest.mark.parametrize("version", ["v4", "v1"])
@pytest.mark.parametrize("chat", [False, True], ids=["quiet", "with-chat"])
def test_statement_count_does_not_grow(people, version, chat):
    """C19: constant statements whatever the number of rooms, also with messages, mentions,
    replies, guests and reactions in every room."""
    people.add_user("u10", "pw")
    people.add_user("u100", "pw")
    seed("u10", "p", 10, chat)
    seed("u100", "q", 100, chat)
    if chat:
        from ocs.accounts.models import User

        User.insert_many(
            [
                {"uid": f"{p}{i}", "uid_lower": f"{p}{i}", "display_name": "", "created_at": 1}
                for p, n in (("p", 10), ("q", 100))
                for i in range(n)
            ]
        ).execute()
    dbm.release_connection()
    people.app.platform.conversations.verify_list_cache = False  # count what production runs
    counts, cached = {}, {}
    for uid, size in (("u10", 10), ("u100", 100)):
        people.ocs("GET", "/cloud/user", user=uid)  # warm the credential cache, not the list
        with count_queries() as counter:
            r = listing(people, user=uid, version=version)
        assert len(people.data(r)) == size
        if chat:
            rooms = people.data(r)
            assert all(
                room["lastMessage"]["messageType"] == "comment" for room in rooms if "lastMessage" in room
            )
            mentioned = [room for room in rooms if room.get("unreadMention")]
            assert mentioned and all(room.get("unreadMentionDirect", True) for room in mentioned)
        counts[size] = counter.count
        with count_queries() as counter:
            again = listing(people, user=uid, version=version)
        assert again.body == r.body
        cached[size] = counter.count
    assert counts[10] == counts[100], counts
    assert cached[10] == cached[100], cached
    if version == "v1":  # v1 is never cached: its member maps change with every session
        # user, the join, partner names; with chat: last messages, unread counts, common read
        # markers, the names they mention (users, guests), the caller's reactions; its members
        assert counts[10] <= 12 and cached[10] == counts[10]
    else:
        # the same plus the user's room-list generation and the next message expiry
        assert counts[10] <= 12
        # the generation, and the user unless the change signal vouches for the cached row
        # (SQLite): the list comes from the cache
        assert cached[10] == (1 if dbm.is_sqlite() else 2)


def test_list_query_uses_the_actor_index(people):
    from ocs.db import is_sqlite

    if not is_sqlite():
        plan = dbm.db.execute_sql(
            "EXPLAIN SELECT * FROM attendees a JOIN rooms r ON r.id = a.room_id "
            "WHERE a.actor_type = 'users' AND a.actor_id = 'alice' ORDER BY a.id"
        ).fetchall()
        assert plan  # PostgreSQL picks its plan by statistics; the SQLite plan is asserted below
        return
    rows = dbm.db.execute_sql(
        "EXPLAIN QUERY PLAN SELECT * FROM attendees a JOIN rooms r ON r.id = a.room_id "
        "WHERE a.actor_type = 'users' AND a.actor_id = 'alice' ORDER BY a.id"
    ).fetchall()
    plan = " | ".join(row[-1] for row in rows)
    assert "SEARCH a USING INDEX attendees_actor" in plan, plan
    assert "SEARCH r USING INTEGER PRIMARY KEY" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
