"""Chat through a real gunicorn: ids strictly increase per room in commit order (C5), so pollers
that follow with ``lastKnownMessageId`` receive every message exactly once, in order, while
several clients post concurrently; concurrent reactions, edits and deletes stay consistent."""

from __future__ import annotations

import json
import threading
import time

from chat.models import ChatMessage
from ocs import db as dbm
from tests.conftest import seed_users
from tests.test_reliability_live import call, connect

POSTERS = ("p1", "p2", "p3", "p4")
POLLERS = ("r1", "r2", "r3", "r4")
PER_POSTER = 200


def chat_call(conn, method, path, user, form=None):
    """One request on a kept-alive connection: (status, headers, data)."""
    from urllib.parse import urlencode

    from tests.conftest import basic

    headers = {
        "OCS-APIRequest": "true",
        "Authorization": basic(user, user + "pw"),
        "Accept": "application/json",
    }
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, f"/ocs/v2.php/apps/spreed/api/v1{path}", body=body, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    try:
        data = json.loads(raw)["ocs"]["data"] if raw else None
    except ValueError:
        raise AssertionError(f"{method} {path}: {response.status} {raw[:300]!r}") from None
    return response.status, response.headers, data


def test_concurrent_posters_and_pollers_see_every_message_once_in_order(live_server, database_url):
    server = live_server(workers=2, threads=16)
    seed_users(database_url, "alice", *POSTERS, *POLLERS)
    status, _, data = call(
        server,
        "POST",
        "/room",
        body={"roomType": 2, "roomName": "Busy", "participants": {"users": [*POSTERS, *POLLERS]}},
    )
    assert status == 201
    token = data["ocs"]["data"]["token"]
    start = data["ocs"]["data"]["lastMessage"]["id"]
    posted: list[int] = []
    received: dict[str, list[int]] = {uid: [] for uid in POLLERS}
    errors: list = []
    done = threading.Event()

    def poster(uid):
        conn = connect(server)
        try:
            for i in range(PER_POSTER):
                status, _, message = chat_call(conn, "POST", f"/chat/{token}", uid, {"message": f"{uid} {i}"})
                if status != 201:
                    errors.append((uid, status))
                    continue
                posted.append(message["id"])
        finally:
            conn.close()

    def poller(uid):
        conn = connect(server, timeout=60)
        last = start
        deadline = time.monotonic() + 120
        try:
            while len(received[uid]) < len(POSTERS) * PER_POSTER and time.monotonic() < deadline:
                path = f"/chat/{token}?lookIntoFuture=1&timeout=10&limit=100&lastKnownMessageId={last}"
                status, headers, data = chat_call(conn, "GET", path, uid)
                if status == 304:
                    continue
                assert status == 200, status
                received[uid].extend(m["id"] for m in data)
                last = int(headers["X-Chat-Last-Given"])
        except Exception as exc:  # reported below, with the poller's name
            errors.append((uid, repr(exc)))
        finally:
            conn.close()
            done.set()

    pollers = [threading.Thread(target=poller, args=(uid,)) for uid in POLLERS]
    for thread in pollers:
        thread.start()
    posters = [threading.Thread(target=poster, args=(uid,)) for uid in POSTERS]
    started = time.monotonic()
    for thread in posters:
        thread.start()
    for thread in posters:
        thread.join(120)
    elapsed = time.monotonic() - started
    for thread in pollers:
        thread.join(120)
    assert errors == []
    assert len(posted) == len(POSTERS) * PER_POSTER
    expected = sorted(posted)
    for uid in POLLERS:
        assert received[uid] == expected, (uid, len(received[uid]), len(expected))
    rows = ChatMessage.select().where(ChatMessage.verb == "comment").count()
    assert rows == len(expected)
    dbm.release_connection()
    print(f"{len(expected)} messages posted by 4 clients in {elapsed:.2f} s")


def test_concurrent_reactions_of_one_actor_create_one(live_server, database_url):
    server = live_server(workers=2, threads=8)
    seed_users(database_url, "alice", "bob")
    status, _, data = call(
        server, "POST", "/room", body={"roomType": 2, "roomName": "R", "participants": {"users": ["bob"]}}
    )
    token = data["ocs"]["data"]["token"]
    conn = connect(server)
    status, _, message = chat_call(conn, "POST", f"/chat/{token}", "alice", {"message": "react"})
    conn.close()
    statuses = []

    def react():
        c = connect(server)
        try:
            statuses.append(
                chat_call(c, "POST", f"/reaction/{token}/{message['id']}", "bob", {"reaction": "👍"})[0]
            )
        finally:
            c.close()

    threads = [threading.Thread(target=react) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [200] * 11 + [201]
    live = ChatMessage.select().where(
        (ChatMessage.verb == "reaction") & (ChatMessage.parent_id == message["id"])
    )
    assert live.count() == 1
    assert json.loads(ChatMessage.get_by_id(message["id"]).reactions) == {"👍": 1}
    dbm.release_connection()


def test_concurrent_edits_and_a_delete_leave_a_consistent_message(live_server, database_url):
    server = live_server(workers=2, threads=8)
    seed_users(database_url, "alice", "bob")
    status, _, data = call(
        server, "POST", "/room", body={"roomType": 2, "roomName": "E", "participants": {"users": ["bob"]}}
    )
    token = data["ocs"]["data"]["token"]
    conn = connect(server)
    message = chat_call(conn, "POST", f"/chat/{token}", "bob", {"message": "original"})[2]
    conn.close()
    results = []

    def act(i):
        c = connect(server)
        try:
            if i == 5:
                results.append(("delete", chat_call(c, "DELETE", f"/chat/{token}/{message['id']}", "bob")[0]))
            else:
                results.append(
                    (
                        "edit",
                        chat_call(
                            c, "PUT", f"/chat/{token}/{message['id']}", "bob", {"message": f"edit {i}"}
                        )[0],
                    )
                )
        finally:
            c.close()

    threads = [threading.Thread(target=act, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert ("delete", 200) in results
    assert all(status in (200, 405) for _, status in results), results
    row = ChatMessage.get_by_id(message["id"])
    assert row.verb == "comment_deleted" and json.loads(row.message)["deleted_by_id"] == "bob"
    edits_ok = sum(1 for kind, status in results if kind == "edit" and status == 200)
    edited_rows = (
        ChatMessage.select()
        .where(ChatMessage.verb == "system")
        .where(ChatMessage.message.contains("message_edited"))
    )
    assert edited_rows.count() == edits_ok  # every answered edit left its system message, no more
    dbm.release_connection()


def test_clear_history_during_posting_loses_nothing_posted_after_it(live_server, database_url):
    server = live_server(workers=2, threads=8)
    seed_users(database_url, "alice", "bob")
    status, _, data = call(
        server, "POST", "/room", body={"roomType": 2, "roomName": "C", "participants": {"users": ["bob"]}}
    )
    token = data["ocs"]["data"]["token"]
    posted = []
    cleared = {}

    def poster():
        c = connect(server)
        try:
            for i in range(150):
                status, _, message = chat_call(c, "POST", f"/chat/{token}", "bob", {"message": f"m{i}"})
                assert status == 201
                posted.append(message["id"])
        finally:
            c.close()

    thread = threading.Thread(target=poster)
    thread.start()
    time.sleep(0.2)
    c = connect(server)
    status, _, row = chat_call(c, "DELETE", f"/chat/{token}", "alice")
    c.close()
    assert status == 200
    cleared["id"] = row["id"]
    thread.join(60)
    after = [i for i in posted if i > cleared["id"]]
    stored = {r.id for r in ChatMessage.select(ChatMessage.id).where(ChatMessage.verb == "comment")}
    assert set(after) <= stored  # nothing posted after the clear is lost
    assert stored == set(after)  # and nothing from before it survives
    dbm.release_connection()
