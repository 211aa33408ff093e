"""Chat through HTTP (``chat.md``): sending, history and polling, the message object, replies,
mentions, read markers and the room's chat fields, edits, deletes, reactions, clear history,
expiration, and who may do what."""

from __future__ import annotations

import threading
import time

import pytest

from chat.models import ChatMessage
from conversations.models import Attendee, Room
from tests.participants_helpers import Guest
from tests.talk import api, create, set_type

MESSAGE_KEYS = [
    "id", "token", "actorType", "actorId", "actorDisplayName", "timestamp", "message",
    "messageParameters", "systemMessage", "messageType", "isReplyable", "referenceId", "reactions",
    "expirationTimestamp", "markdown", "threadId",
]  # fmt: skip


@pytest.fixture
def team(client):
    for uid, name in (("alice", "Alice A"), ("bob", "Bob B"), ("carol", "Carol C"), ("dave", "")):
        client.add_user(uid, "pw", display_name=name)
    token = create(client, "alice", roomType=3, roomName="Team", participants={"users": ["bob", "carol"]})[
        "token"
    ]
    return client, token


def chat_url(token, suffix=""):
    return api("v1") + f"/chat/{token}{suffix}"


def post(client, token, message, user="alice", status=None, **extra):
    r = client.ocs("POST", chat_url(token), user=user, form={"message": message, **extra})
    if status is not None:
        assert r.status_int == status, r.text
    return r


def history(client, token, user="alice", **params):
    params.setdefault("lookIntoFuture", 0)
    return client.ocs("GET", chat_url(token), user=user, params=params)


def comments(client, token, user="alice", **params):
    r = history(client, token, user=user, **params)
    if r.status_int == 304:
        return []
    return [m for m in client.data(r) if m["messageType"] == "comment"]


def room_of(client, token, user):
    return client.data(client.ocs("GET", api() + f"/room/{token}", user=user))


# --- sending and the message object ---------------------------------------------------------


def test_send_returns_the_message_object(team):
    client, token = team
    r = post(client, token, "  hello **world** \n ", status=201, referenceId="ref-1")
    message = client.data(r)
    assert list(message) == MESSAGE_KEYS
    assert message["message"] == "hello **world**"  # trimmed, stored as sent (clients render Markdown)
    assert (message["actorType"], message["actorId"], message["actorDisplayName"]) == (
        "users",
        "alice",
        "Alice A",
    )
    assert message["messageParameters"] == [] and message["reactions"] == {}
    assert message["messageType"] == "comment" and message["systemMessage"] == ""
    assert message["isReplyable"] is True and message["markdown"] is True
    assert message["referenceId"] == "ref-1" and message["expirationTimestamp"] == 0
    assert message["threadId"] == message["id"] and message["token"] == token
    assert isinstance(message["timestamp"], int) and message["timestamp"] > 0
    assert r.headers["X-Chat-Last-Common-Read"] == "0"  # bob and carol have read nothing
    assert '"messageParameters":[]' in r.text and '"reactions":{}' in r.text


def test_send_validation(team):
    client, token = team
    r = post(client, token, "   ")
    assert (r.status_int, client.data(r)) == (400, {"error": "message"})
    r = client.ocs("POST", chat_url(token), user="alice", form={})
    assert (r.status_int, client.data(r)) == (400, [])
    r = post(client, token, "é" * 32000)
    assert r.status_int == 201  # the limit counts characters, not bytes
    r = post(client, token, "x" * 32001)
    assert (r.status_int, client.data(r)) == (413, {"error": "message"})
    r = post(client, token, "ref", referenceId="r" * 80)
    assert client.data(r)["referenceId"] == "r" * 64
    r = post(client, token, "quiet", silent="true")
    assert client.data(r)["silent"] is True
    r = post(client, token, "<script>alert(1)</script>")
    assert client.data(r)["message"] == "<script>alert(1)</script>"  # stored and returned as sent
    assert "\\u003Cscript\\u003E" in r.text  # JSON escapes < and > as Nextcloud does


def test_api_versions_other_than_v1_are_unknown(team):
    client, token = team
    r = client.ocs("GET", api("v4") + f"/chat/{token}", user="alice", params={"lookIntoFuture": 0})
    assert r.status_int == 404 and r.json["ocs"]["meta"]["statuscode"] == 998


def test_replies_carry_their_parent(team):
    client, token = team
    first = client.data(post(client, token, "question", user="bob"))
    r = post(client, token, "answer", replyTo=first["id"])
    reply = client.data(r)
    assert reply["parent"]["id"] == first["id"] and reply["parent"]["message"] == "question"
    assert "parent" not in reply["parent"]
    assert reply["threadId"] == first["id"]
    system = client.data(history(client, token))[-1]
    assert system["messageType"] == "system"
    for bad in (system["id"], 999999):
        r = post(client, token, "x", replyTo=bad)
        assert (r.status_int, client.data(r)) == (400, {"error": "reply-to"})
    listed = comments(client, token)
    assert listed[0]["parent"]["id"] == first["id"]


# --- history and polling ----------------------------------------------------------------------


def test_history_order_paging_and_headers(team):
    client, token = team
    ids = [client.data(post(client, token, f"m{i}"))["id"] for i in range(5)]
    r = history(client, token, limit=3)
    assert [m["id"] for m in client.data(r)] == [ids[4], ids[3], ids[2]]
    assert r.headers["X-Chat-Last-Given"] == str(ids[2])
    r = history(client, token, limit=3, lastKnownMessageId=ids[2])
    assert [m["id"] for m in client.data(r)][:2] == [ids[1], ids[0]]
    r = history(client, token, limit=2, lastKnownMessageId=ids[2], includeLastKnown=1)
    assert [m["id"] for m in client.data(r)] == [ids[2], ids[1]]
    first = client.data(history(client, token, limit=200))[-1]["id"]
    r = history(client, token, lastKnownMessageId=first)
    assert r.status_int == 304 and r.body == b""  # below the first row: end of history
    r = client.ocs(
        "GET", chat_url(token), user="alice", v=1, params={"lookIntoFuture": 0, "lastKnownMessageId": first}
    )
    assert r.status_int == 200 and r.json["ocs"]["meta"]["statuscode"] == 304 and client.data(r) is None
    r = history(client, token, limit=500)  # clamped to 200 (C8)
    assert r.status_int == 200
    r = client.ocs("GET", chat_url(token), user="alice", params={})
    assert (r.status_int, client.data(r)) == (400, [])  # lookIntoFuture is required


def test_polling_returns_newer_messages_oldest_first(team):
    client, token = team
    ids = [client.data(post(client, token, f"m{i}"))["id"] for i in range(3)]
    r = history(client, token, lookIntoFuture=1, lastKnownMessageId=ids[0], timeout=0)
    assert [m["id"] for m in client.data(r)] == ids[1:]
    assert r.headers["X-Chat-Last-Given"] == str(ids[2])
    started = time.monotonic()
    r = history(client, token, lookIntoFuture=1, lastKnownMessageId=ids[2], timeout=0)
    assert r.status_int == 304 and time.monotonic() - started < 1
    r = history(client, token, lookIntoFuture=1, lastKnownMessageId=ids[2], timeout=1)
    assert r.status_int == 304


def test_long_poll_wakes_when_a_message_is_posted(team):
    client, token = team
    last = client.data(post(client, token, "before"))["id"]
    result = {}

    def poll():
        started = time.monotonic()
        r = history(client, token, user="bob", lookIntoFuture=1, lastKnownMessageId=last, timeout=20)
        result["elapsed"] = time.monotonic() - started
        result["messages"] = [m["message"] for m in client.data(r)]

    waiter = threading.Thread(target=poll)
    waiter.start()
    deadline = time.monotonic() + 5
    while client.app.platform.chat.waiters.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.app.platform.chat.waiters.count() == 1
    posted = time.monotonic()
    post(client, token, "wake up", status=201)
    waiter.join(10)
    assert result["messages"] == ["wake up"]
    assert result["elapsed"] < 15 and time.monotonic() - posted < 1.0  # woken in-process, not by timeout
    assert client.app.platform.chat.waiters.count() == 0


def test_common_read_answer_without_new_messages(team):
    client, token = team
    last = client.data(post(client, token, "hi"))["id"]
    r = history(client, token, lookIntoFuture=1, lastKnownMessageId=last, timeout=0, lastCommonReadId=1)
    assert r.status_int == 200 and client.data(r) == []
    assert r.headers["X-Chat-Last-Common-Read"] == "0"


# --- mentions -----------------------------------------------------------------------------------


def test_mentions_are_rendered_as_talk_renders_them(team):
    client, token = team
    r = post(client, token, 'hi @bob and @"carol" and @all, not @nosuch or `@bob`')
    message = client.data(r)
    assert message["message"] == (
        "hi {mention-user2} and {mention-user1} and {mention-call1}, not @nosuch or `@bob`"
    )
    params = message["messageParameters"]
    assert params["mention-user1"] == {
        "type": "user",
        "id": "carol",
        "name": "Carol C",
        "mention-id": "carol",
    }
    assert params["mention-user2"] == {"type": "user", "id": "bob", "name": "Bob B", "mention-id": "bob"}
    call = params["mention-call1"]
    assert (call["type"], call["id"], call["name"], call["call-type"], call["mention-id"]) == (
        "call",
        token,
        "Team",
        "public",
        "all",
    )
    assert call["icon-url"].startswith("http://localhost") and f"/room/{token}/avatar?v=" in call["icon-url"]
    r = post(client, token, "mail @bob at email@bob.com")
    # upstream's quirk (C12): once @bob is a mention, every "@bob" outside code is replaced
    assert client.data(r)["message"] == "mail {mention-user1} at email{mention-user1}.com"
    r = post(client, token, "mail me at email@bob.com")
    assert client.data(r)["message"] == "mail me at email@bob.com"  # no mention detected


def test_mention_flags_in_the_room(team):
    client, token = team
    post(client, token, "hey @bob")
    bob = room_of(client, token, "bob")
    assert (bob["unreadMessages"], bob["unreadMention"], bob["unreadMentionDirect"]) == (1, True, True)
    carol = room_of(client, token, "carol")
    assert (carol["unreadMessages"], carol["unreadMention"]) == (1, False)
    post(client, token, "all of you @all", silent="1")
    carol = room_of(client, token, "carol")
    assert (carol["unreadMessages"], carol["unreadMention"], carol["unreadMentionDirect"]) == (2, True, False)
    alice = room_of(client, token, "alice")
    assert alice["unreadMessages"] == 0 and alice["lastReadMessage"] == alice["lastMessage"]["id"]


def test_mention_suggestions(team):
    client, token = team
    r = client.ocs("GET", chat_url(token, "/mentions"), user="alice", params={"search": "b"})
    assert client.data(r) == [{"id": "bob", "label": "Bob B", "source": "users", "mentionId": "bob"}]
    r = client.ocs("GET", chat_url(token, "/mentions"), user="alice", params={"search": ""})
    data = client.data(r)
    assert [d["id"] for d in data] == ["alice", "bob", "carol", "all"]
    assert data[-1] == {
        "id": "all",
        "label": "Team",
        "source": "calls",
        "mentionId": "all",
        "details": "All 3 participants",
    }


# --- read markers and room fields ---------------------------------------------------------------


def test_read_markers(team):
    client, token = team
    ids = [client.data(post(client, token, f"m{i}"))["id"] for i in range(3)]
    bob = room_of(client, token, "bob")
    assert bob["unreadMessages"] == 3 and bob["lastMessage"]["id"] == ids[2]
    r = client.ocs("POST", chat_url(token, "/read"), user="bob", form={"lastReadMessage": ids[1]})
    assert r.status_int == 200 and client.data(r)["lastReadMessage"] == ids[1]
    assert client.data(r)["unreadMessages"] == 1 and "attendeeId" in client.data(r)
    assert r.headers["X-Chat-Last-Common-Read"] == "0"  # carol has read nothing
    r = client.ocs("POST", chat_url(token, "/read"), user="bob")
    assert client.data(r)["lastReadMessage"] == ids[2] and client.data(r)["unreadMessages"] == 0
    r = client.ocs("DELETE", chat_url(token, "/read"), user="bob")
    assert client.data(r)["lastReadMessage"] == ids[1] and client.data(r)["unreadMessages"] == 1
    for value, shown in ((0, -2), (-2, -2), (-1, -2), (99999999, 99999999)):
        r = client.ocs("POST", chat_url(token, "/read"), user="bob", form={"lastReadMessage": value})
        assert client.data(r)["lastReadMessage"] == shown, value
    r = client.ocs("POST", chat_url(token, "/read"), user="bob", form={"lastReadMessage": -5})
    assert (r.status_int, client.data(r)) == (400, [])
    client.ocs("POST", chat_url(token, "/read"), user="carol")
    client.ocs("POST", chat_url(token, "/read"), user="bob", form={"lastReadMessage": ids[0]})
    r = client.ocs("POST", chat_url(token, "/read"), user="alice")
    assert r.headers["X-Chat-Last-Common-Read"] == str(ids[0])
    assert client.data(r)["lastCommonReadMessage"] == ids[0]


def test_polling_moves_the_read_marker(team):
    client, token = team
    ids = [client.data(post(client, token, f"m{i}"))["id"] for i in range(2)]
    history(client, token, user="bob", lookIntoFuture=1, lastKnownMessageId=ids[0], timeout=0)
    assert room_of(client, token, "bob")["lastReadMessage"] == ids[0]
    history(client, token, user="bob", lookIntoFuture=0, lastKnownMessageId=ids[1])
    assert room_of(client, token, "bob")["lastReadMessage"] == ids[0]  # history never moves it


def test_last_message_and_activity_in_the_room_list(team):
    client, token = team
    before = room_of(client, token, "bob")["lastActivity"]
    message = client.data(post(client, token, "latest"))
    rooms = client.data(client.ocs("GET", api() + "/room", user="bob"))
    mine = next(r for r in rooms if r["token"] == token)
    assert mine["lastMessage"]["id"] == message["id"] and mine["lastMessage"]["message"] == "latest"
    assert "parent" not in mine["lastMessage"]
    assert mine["lastActivity"] >= before


# --- system messages --------------------------------------------------------------------------


def test_system_messages_of_room_changes(team):
    client, token = team
    client.add_user("erin", "pw", display_name="Erin E", groups=["staff"])
    base = api() + f"/room/{token}"

    def call(method, path, **form):
        r = client.ocs(method, base + path, user="alice", form=form or None)
        assert r.status_int == 200, r.text

    call("PUT", "", roomName="Renamed")
    call("PUT", "/description", description="About")
    call("PUT", "/description", description="")
    call("PUT", "/password", password="secret-1")
    call("PUT", "/password", password="")
    call("PUT", "/read-only", state=1)
    call("PUT", "/read-only", state=0)
    call("PUT", "/listable", scope=1)
    call("PUT", "/webinar/lobby", state=1)
    call("PUT", "/webinar/lobby", state=0)
    call("POST", "/message-expiration", seconds=3600)
    call("POST", "/message-expiration", seconds=0)
    call("POST", "/participants", newParticipant="dave")
    call("POST", "/participants", newParticipant="staff", source="groups")
    bob = next(a for a in Attendee.select().where(Attendee.actor_id == "bob"))
    call("POST", "/moderators", attendeeId=bob.id)
    call("DELETE", "/moderators", attendeeId=bob.id)
    call("DELETE", "/public")
    rows = client.data(history(client, token, limit=200))[::-1]
    names = [m["systemMessage"] for m in rows]
    assert names == [
        "conversation_created",
        "user_added",
        "user_added",
        "conversation_renamed",
        "description_set",
        "description_removed",
        "password_set",
        "password_removed",
        "read_only",
        "read_only_off",
        "listable_users",
        "lobby_non_moderators",
        "lobby_none",
        "message_expiration_enabled",
        "message_expiration_disabled",
        "user_added",
        "group_added",
        "user_added",
        "moderator_promoted",
        "moderator_demoted",
        "guests_disallowed",
    ]
    texts = {m["systemMessage"]: m["message"] for m in rows}
    assert texts["conversation_renamed"] == 'You renamed the conversation from "Team" to "Renamed"'
    assert texts["message_expiration_enabled"] == "You set the message expiration to 1 hour"
    assert texts["group_added"] == "You added group {group}"
    for m in rows:
        assert m["messageType"] == "system" and m["markdown"] is False and m["isReplyable"] is False
        assert m["messageParameters"]["actor"]["id"] == "alice"
    seen_by_bob = {m["systemMessage"]: m for m in client.data(history(client, token, user="bob", limit=200))}
    assert seen_by_bob["moderator_promoted"]["message"] == "{actor} promoted you to moderator"
    assert seen_by_bob["read_only"]["message"] == "{actor} locked the conversation"
    added = [m for m in rows if m["systemMessage"] == "user_added"]
    assert added[2]["messageParameters"]["user"] == {
        "type": "user",
        "id": "dave",
        "name": "dave",
        "mention-id": "dave",
    }
    seen_by_dave = client.data(history(client, token, user="dave", limit=200))
    dave_added = [m for m in seen_by_dave if m["systemMessage"] == "user_added"]
    assert "{actor} added you" in [m["message"] for m in dave_added]
    # system messages do not move the actor's read marker, but count as the last message
    alice = room_of(client, token, "alice")
    assert alice["lastMessage"]["systemMessage"] == "guests_disallowed"
    assert alice["unreadMessages"] == 0


def test_leaving_and_removing_post_messages(team):
    client, token = team
    client.ocs("DELETE", api() + f"/room/{token}/participants/self", user="carol")
    bob = Attendee.get(Attendee.actor_id == "bob")
    client.ocs("DELETE", api() + f"/room/{token}/attendees", user="alice", form={"attendeeId": bob.id})
    rows = client.data(history(client, token, limit=5))
    assert [m["systemMessage"] for m in rows[:2]] == ["user_removed", "user_removed"]
    assert rows[1]["message"] == "{actor} left the conversation"
    assert rows[0]["message"] == "You removed {user}"


# --- edit, delete, reactions, clear -----------------------------------------------------------


def test_edit_and_delete(team):
    client, token = team
    mine = client.data(post(client, token, "typo", user="bob"))
    r = client.ocs("PUT", chat_url(token, f"/{mine['id']}"), user="bob", form={"message": "fixed"})
    assert r.status_int == 200
    edited = client.data(r)
    assert edited["systemMessage"] == "message_edited" and edited["message"] == "You edited a message"
    assert edited["parent"]["message"] == "fixed" and edited["parent"]["lastEditActorId"] == "bob"
    r = client.ocs("PUT", chat_url(token, f"/{mine['id']}"), user="carol", form={"message": "no"})
    assert (r.status_int, client.data(r)) == (403, {"error": "permission"})
    r = client.ocs("PUT", chat_url(token, f"/{mine['id']}"), user="alice", form={"message": "by mod"})
    assert r.status_int == 200  # moderators may edit others' messages in group rooms
    r = client.ocs("PUT", chat_url(token, "/999999"), user="bob", form={"message": "x"})
    assert (r.status_int, client.data(r)) == (404, {"error": "message"})
    r = client.ocs("PUT", chat_url(token, f"/{edited['id']}"), user="alice", form={"message": "x"})
    assert (r.status_int, client.data(r)) == (405, {"error": "message"})
    r = client.ocs("DELETE", chat_url(token, f"/{mine['id']}"), user="bob")
    deleted = client.data(r)
    assert deleted["systemMessage"] == "message_deleted"
    assert deleted["parent"]["messageType"] == "comment_deleted"
    assert deleted["parent"]["message"] == "Message deleted by you" and deleted["parent"]["deleted"] is True
    seen = {m["id"]: m for m in client.data(history(client, token, user="carol"))}
    assert seen[mine["id"]]["message"] == "Message deleted by author"
    r = client.ocs("DELETE", chat_url(token, f"/{mine['id']}"), user="bob")
    assert (r.status_int, client.data(r)) == (405, {"error": "message"})
    old = client.data(post(client, token, "old", user="bob"))
    ChatMessage.update(created_at=ChatMessage.created_at - 25 * 3600).where(
        ChatMessage.id == old["id"]
    ).execute()
    r = client.ocs("PUT", chat_url(token, f"/{old['id']}"), user="bob", form={"message": "late"})
    assert (r.status_int, client.data(r)) == (400, {"error": "age"})
    assert (
        client.ocs("DELETE", chat_url(token, f"/{old['id']}"), user="bob").status_int == 200
    )  # no age limit


def test_reactions(team):
    client, token = team
    message = client.data(post(client, token, "react to me"))
    url = api("v1") + f"/reaction/{token}/{message['id']}"
    r = client.ocs("POST", url, user="bob", form={"reaction": "👍"})
    assert r.status_int == 201
    assert [e["actorId"] for e in client.data(r)["👍"]] == ["bob"]
    assert client.ocs("POST", url, user="bob", form={"reaction": "👍"}).status_int == 200
    client.ocs("POST", url, user="carol", form={"reaction": "👍"})
    client.ocs("POST", url, user="carol", form={"reaction": "🎉"})
    data = client.data(client.ocs("GET", url, user="alice"))
    assert [e["actorId"] for e in data["👍"]] == ["carol", "bob"] and list(data) == ["🎉", "👍"]
    assert list(client.data(client.ocs("GET", url, user="alice", params={"reaction": "🎉"}))) == ["🎉"]
    for bad in ("ab", "👍👍", ""):
        r = client.ocs("POST", url, user="bob", form={"reaction": bad})
        assert r.status_int == 400, bad
    listed = {m["id"]: m for m in client.data(history(client, token, user="bob"))}
    assert listed[message["id"]]["reactions"] == {"👍": 2, "🎉": 1}
    assert listed[message["id"]]["reactionsSelf"] == ["👍"]
    r = client.ocs("DELETE", url, user="carol", form={"reaction": "👍"})
    assert r.status_int == 200 and [e["actorId"] for e in client.data(r)["👍"]] == ["bob"]
    r = client.ocs("DELETE", url, user="carol", form={"reaction": "👍"})
    assert (r.status_int, client.data(r)) == (404, None)
    names = [m["systemMessage"] for m in client.data(history(client, token, limit=10))]
    assert "reaction_revoked" in names and "reaction_deleted" in names and "reaction" in names
    system = client.data(history(client, token, limit=1))[0]
    r = client.ocs(
        "POST", api("v1") + f"/reaction/{token}/{system['id']}", user="bob", form={"reaction": "👍"}
    )
    assert (r.status_int, client.data(r)) == (400, None)
    r = client.ocs("POST", api("v1") + f"/reaction/{token}/99999", user="bob", form={"reaction": "👍"})
    assert (r.status_int, client.data(r)) == (404, None)
    assert room_of(client, token, "alice")["lastMessage"]["id"] == message["id"]  # reactions do not count


def test_clear_history(team):
    client, token = team
    message = client.data(post(client, token, "soon gone"))
    r = client.ocs("DELETE", chat_url(token), user="bob")
    assert (r.status_int, client.data(r)) == (403, None)
    r = client.ocs("DELETE", chat_url(token), user="alice")
    assert r.status_int == 200 and client.data(r)["systemMessage"] == "history_cleared"
    rows = client.data(history(client, token))
    assert [m["systemMessage"] for m in rows] == ["history_cleared"]
    bob = room_of(client, token, "bob")
    assert bob["lastReadMessage"] == -2 and bob["unreadMessages"] == 1
    r = client.ocs("GET", api("v1") + f"/reaction/{token}/{message['id']}", user="bob")
    assert r.status_int == 404
    one = create(client, "alice", roomType=1, invite="bob")["token"]
    r = client.ocs("DELETE", chat_url(one), user="alice")
    assert (r.status_int, client.data(r)) == (403, None)


# --- expiration ---------------------------------------------------------------------------------


def test_expired_messages_are_hidden_and_purged(team):
    client, token = team
    client.ocs("POST", api() + f"/room/{token}/message-expiration", user="alice", form={"seconds": 3600})
    message = client.data(post(client, token, "ephemeral"))
    assert message["expirationTimestamp"] == message["timestamp"] + 3600
    ChatMessage.update(expire_at=1).where(ChatMessage.id == message["id"]).execute()
    client.app.platform.chat._next_purge = float("inf")  # the last purge was just now
    assert message["id"] not in [m["id"] for m in client.data(history(client, token))]
    bob = room_of(client, token, "bob")
    assert "lastMessage" in bob and bob["lastMessage"] == []
    assert ChatMessage.get_or_none(ChatMessage.id == message["id"]) is not None  # hidden, not yet purged
    client.app.platform.chat._next_purge = 0  # five minutes later: the next read purges
    history(client, token)
    assert ChatMessage.get_or_none(ChatMessage.id == message["id"]) is None


# --- who may do what ----------------------------------------------------------------------------


def test_read_only_lobby_and_permission_bits(team):
    client, token = team
    client.ocs("PUT", api() + f"/room/{token}/read-only", user="alice", form={"state": 1})
    for user in ("alice", "bob"):
        r = post(client, token, "locked", user=user)
        assert (r.status_int, client.data(r)) == (403, []), user
    client.ocs("PUT", api() + f"/room/{token}/read-only", user="alice", form={"state": 0})
    client.ocs("PUT", api() + f"/room/{token}/webinar/lobby", user="alice", form={"state": 1})
    r = post(client, token, "lobby", user="bob")
    assert (r.status_int, client.data(r)) == (412, [])
    assert history(client, token, user="bob").status_int == 412
    assert post(client, token, "moderators pass", user="alice").status_int == 201
    client.ocs("PUT", api() + f"/room/{token}/webinar/lobby", user="alice", form={"state": 0})
    client.ocs("PUT", api() + f"/room/{token}/permissions/default", user="alice", form={"permissions": 256})
    r = post(client, token, "no chat bit", user="bob")
    assert (r.status_int, client.data(r)) == (403, [])
    message = client.data(post(client, token, "mine"))
    url = api("v1") + f"/reaction/{token}/{message['id']}"
    assert client.ocs("POST", url, user="bob", form={"reaction": "👍"}).status_int == 201
    client.ocs("PUT", api() + f"/room/{token}/permissions/default", user="alice", form={"permissions": 128})
    assert client.ocs("POST", url, user="carol", form={"reaction": "👍"}).status_int == 403
    assert post(client, token, "chat bit only", user="carol").status_int == 201


def test_guests_post_and_react_but_do_not_edit(team):
    client, token = team
    guest = Guest(client.app)
    guest.join(token)
    r = guest.call(
        "POST", f"/chat/{token}", "v1", {"message": "hello from a guest", "actorDisplayName": "Gus"}
    )
    assert r.status_int == 201
    message = r.json["ocs"]["data"]
    assert message["actorType"] == "guests" and message["actorDisplayName"] == "Gus"
    r = guest.call("PUT", f"/chat/{token}/{message['id']}", "v1", {"message": "edit"})
    assert r.status_int == 404
    r = guest.call("POST", f"/chat/{token}/read", "v1")
    assert r.status_int == 404
    own = client.data(post(client, token, "react, guest"))
    r = guest.call("POST", f"/reaction/{token}/{own['id']}", "v1", {"reaction": "👍"})
    assert r.status_int == 201
    stranger = client.ocs("GET", chat_url(token), user="dave", params={"lookIntoFuture": 0})
    assert stranger.status_int == 404
    unknown = client.ocs("GET", chat_url("zzzz9999"), user="alice", params={"lookIntoFuture": 0})
    assert (stranger.status_int, stranger.json) == (unknown.status_int, unknown.json)


def test_chat_can_be_switched_off(make_client):
    client = make_client({"talk": {"features": {"chat-v2": False}}})
    client.add_user("alice", "pw")
    token = create(client, "alice", roomName="Quiet")["token"]
    r = client.ocs("POST", chat_url(token), user="alice", form={"message": "x"})
    assert r.status_int == 404 and r.json["ocs"]["meta"]["statuscode"] == 998
    features = client.data(client.ocs("GET", "/cloud/capabilities"))["capabilities"]["spreed"]["features"]
    assert "chat-v2" not in features and "reactions" not in features
    assert client.data(client.ocs("GET", api() + f"/room/{token}", user="alice"))["lastMessage"] == []
    assert not ChatMessage.select().exists()


def test_xml_message(team):
    client, token = team
    r = client.ocs("POST", chat_url(token), user="alice", fmt="xml", form={"message": "in xml"})
    assert "<message>in xml</message>" in r.text and "<messageParameters/>" in r.text
    assert "<reactions/>" in r.text


def test_rooms_are_deleted_with_their_chat(team):
    client, token = team
    post(client, token, "bye")
    assert client.ocs("DELETE", api() + f"/room/{token}", user="alice").status_int == 200
    assert Room.get_or_none(Room.token == token) is None
    assert not ChatMessage.select().exists()


def test_note_to_self_edits_have_no_age_limit(client):
    client.add_user("alice", "pw")
    note = client.data(client.ocs("GET", api() + "/room/note-to-self", user="alice"))
    message = client.data(post(client, note["token"], "note"))
    ChatMessage.update(created_at=1).where(ChatMessage.id == message["id"]).execute()
    r = client.ocs("PUT", chat_url(note["token"], f"/{message['id']}"), user="alice", form={"message": "new"})
    assert r.status_int == 200


def test_moderators_cannot_edit_others_in_one_to_one(client):
    for uid in ("alice", "bob"):
        client.add_user(uid, "pw")
    token = create(client, "alice", roomType=1, invite="bob")["token"]
    message = client.data(post(client, token, "mine", user="bob"))
    r = client.ocs("PUT", chat_url(token, f"/{message['id']}"), user="alice", form={"message": "x"})
    assert (r.status_int, client.data(r)) == (403, {"error": "permission"})
    set_type(token, "alice", 1)


def test_guest_mention_rate_limit(team):
    from ocs.throttle import BruteforceAttempt

    client, token = team
    guest = Guest(client.app)
    guest.join(token)
    r = guest.call("POST", f"/chat/{token}", "v1", {"message": "hi @bob"})
    assert r.status_int == 201
    now = int(time.time())
    for _ in range(49):
        BruteforceAttempt.create(
            action="talkMentions", occurred=now, ip="203.0.113.5", subnet="203.0.113.5/32", metadata="{}"
        )
    r = guest.call("POST", f"/chat/{token}", "v1", {"message": "again @bob"})
    assert r.status_int == 429 and r.json["ocs"]["data"] == {"error": "mentions"}
    assert guest.call("POST", f"/chat/{token}", "v1", {"message": "no mention"}).status_int == 201
    assert post(client, token, "users are not limited @bob").status_int == 201


def test_context_around_a_message(team):
    client, token = team
    ids = [client.data(post(client, token, f"m{i}"))["id"] for i in range(7)]
    r = client.ocs("GET", chat_url(token, f"/{ids[3]}/context"), user="bob", params={"limit": 3})
    assert [m["id"] for m in client.data(r)] == ids[1:7]  # 2 before, the message, 3 after
    assert r.headers["X-Chat-Last-Given"] == str(ids[6])
    r = client.ocs("GET", chat_url(token, f"/{ids[3]}/context"), user="bob", params={"limit": 1})
    assert [m["id"] for m in client.data(r)] == ids[3:5]


def test_lobby_timer_and_avatar_messages(team):
    client, token = team
    past = int(time.time()) - 5
    client.ocs("PUT", api() + f"/room/{token}/webinar/lobby", user="alice", form={"state": 1})
    Room.update(lobby_timer=past).where(Room.token == token).execute()
    client.ocs("GET", api() + f"/room/{token}", user="bob")  # bob's request notices the timer
    client.ocs("POST", api("v1") + f"/room/{token}/avatar/emoji", user="alice", form={"emoji": "🚀"})
    client.ocs("DELETE", api("v1") + f"/room/{token}/avatar", user="alice")
    rows = client.data(history(client, token, user="carol", limit=4))
    assert [m["systemMessage"] for m in rows] == [
        "avatar_removed",
        "avatar_set",
        "lobby_timer_reached",
        "lobby_non_moderators",
    ]
    assert rows[2]["message"] == "The conversation is now open to everyone"
    assert rows[2]["actorId"] == "bob"
    assert rows[1]["message"] == "{actor} set the conversation picture"


def test_deleted_users_sensitive_rooms_and_edited_mentions(team):
    client, token = team
    client.add_user("root", "pw", groups=["admin"])
    by_carol = client.data(post(client, token, "from carol", user="carol"))
    assert client.ocs("DELETE", "/cloud/users/carol", user="root").status_int == 200
    shown = {m["id"]: m for m in client.data(history(client, token))}[by_carol["id"]]
    assert (shown["actorType"], shown["actorId"], shown["actorDisplayName"]) == (
        "deleted_users",
        "deleted_users",
        "",
    )
    # an edit that adds a mention counts for the newly mentioned user
    mine = client.data(post(client, token, "no mention yet"))
    client.ocs("POST", chat_url(token, "/read"), user="bob")
    assert room_of(client, token, "bob")["unreadMention"] is False
    client.ocs("PUT", chat_url(token, f"/{mine['id']}"), user="alice", form={"message": "now @bob"})
    bob = Attendee.get((Attendee.actor_id == "bob") & (Attendee.room == Room.get(Room.token == token).id))
    assert bob.last_mention_message == mine["id"] and bob.last_mention_direct == mine["id"]
    # sensitive rooms show no last message
    client.ocs("POST", api() + f"/room/{token}/sensitive", user="bob")
    assert "lastMessage" not in room_of(client, token, "bob")
    assert "lastMessage" in room_of(client, token, "alice")
