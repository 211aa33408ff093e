"""Against a real gunicorn on loopback: nc_py_api interop, several workers sharing state,
and transport limits that only a real server exercises (chunked bodies)."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from nc_py_api import Nextcloud, NextcloudException

from ocs import db as dbm
from ocs.accounts import service as accounts
from ocs.throttle import BruteforceAttempt
from tests.conftest import basic, seed_users


@pytest.fixture
def seeded(live_server, database_url):
    server = live_server()
    seed_users(database_url, ("admin1", "adminpw", "Admin One", ["admin"]), "bob")
    return server


def test_nc_py_api_capabilities_user_and_provisioning(seeded):
    nc = Nextcloud(nextcloud_url=seeded.url, nc_auth_user="admin1", nc_auth_pass="adminpw")
    assert nc.srv_version["major"] == 31
    assert nc.srv_version["string"] == "31.0.0"
    assert "spreed" in nc.capabilities
    assert nc.user == "admin1"
    nc.users.create("carol", display_name="Carol C", password="carolpw")
    assert "carol" in nc.users.get_list()
    info = nc.users.get_user("carol")
    assert info.display_name == "Carol C"
    nc.users_groups.create("staff", display_name="Staff")
    nc.users.add_to_group("carol", "staff")
    assert nc.users_groups.get_members("staff") == ["carol"]
    assert "staff" in nc.users_groups.get_list()
    carol = Nextcloud(nextcloud_url=seeded.url, nc_auth_user="carol", nc_auth_pass="carolpw")
    assert carol.user == "carol"
    with pytest.raises(NextcloudException) as info:
        carol.users.create("mallory", password="x")
    assert info.value.status_code == 403
    nc.users.delete("carol")
    assert "carol" not in nc.users.get_list()


def test_nc_py_api_anonymous_sees_talk(seeded):
    nc = Nextcloud(nextcloud_url=seeded.url, nc_auth_user="", nc_auth_pass="")
    assert "spreed" in nc.capabilities
    assert nc.srv_version["extended_support"] is False


def request(server, method, path, headers=None, body=None, chunks=None):
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        if chunks is not None:
            conn.putrequest(method, path)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            try:
                for chunk in chunks:
                    conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                conn.send(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_two_workers_share_the_login_throttle(seeded):
    statuses = []
    for i in range(12):
        status, _, _ = request(
            seeded,
            "GET",
            "/ocs/v2.php/cloud/user?format=json",
            headers={"OCS-APIRequest": "true", "Authorization": basic("bob", f"wrong{i}")},
        )
        statuses.append(status)
    assert statuses == [401] * 10 + [429, 429]
    assert BruteforceAttempt.select().count() == 11
    dbm.release_connection()


def test_chunked_body_over_the_limit_is_413(live_server, seeded):
    headers = {
        "OCS-APIRequest": "true",
        "Authorization": basic("admin1", "adminpw"),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    status, _, body = request(
        seeded,
        "POST",
        "/ocs/v2.php/cloud/groups?format=json",
        headers=headers,
        chunks=[b"groupid=big&pad="] + [b"z" * 65536] * 20,
    )
    assert status == 413
    assert json.loads(body)["ocs"]["meta"]["statuscode"] == 413
    status, _, body = request(
        seeded,
        "POST",
        "/ocs/v2.php/cloud/groups?format=json",
        headers=headers,
        chunks=[b"groupid=", b"small"],
    )
    assert status == 200, body
    assert accounts.find_group("small") is not None
    assert accounts.find_group("big") is None
    dbm.release_connection()


def test_nc_py_api_conversation_lifecycle(seeded):
    from nc_py_api.talk import ConversationType, NotificationLevel

    nc = Nextcloud(nextcloud_url=seeded.url, nc_auth_user="admin1", nc_auth_pass="adminpw")
    bob = Nextcloud(nextcloud_url=seeded.url, nc_auth_user="bob", nc_auth_pass="bobpw")
    assert nc.talk.available
    group = nc.talk.create_conversation(ConversationType.GROUP, room_name="Team room")
    assert group.conversation_type == ConversationType.GROUP and group.display_name == "Team room"
    one = nc.talk.create_conversation(ConversationType.ONE_TO_ONE, invite="bob")
    assert one.display_name == "Bob"
    listed = nc.talk.get_user_conversations()
    assert {c.token for c in listed} == {group.token, one.token}
    assert nc.talk.modified_since > 0
    future = nc.talk.modified_since + 2  # rooms changed in the same second are included again
    assert [c.token for c in nc.talk.get_user_conversations(modified_since=future)] == []
    assert bob.talk.get_user_conversations() == []  # C23: not bob's until he opens it or is written to
    assert bob.talk.get_conversation_by_token(one.token).display_name == "Admin One"  # opening joins
    assert [c.display_name for c in bob.talk.get_user_conversations()] == ["Admin One"]
    nc.talk.rename_conversation(group, "Renamed")
    nc.talk.set_conversation_description(group, "About")
    nc.talk.set_conversation_public(group, True)
    nc.talk.set_conversation_password(group, "room-secret")
    nc.talk.set_conversation_readonly(group, True)
    nc.talk.set_conversation_fav(group, True)
    nc.talk.set_conversation_notify_lvl(group, NotificationLevel.NEVER_NOTIFY)
    got = nc.talk.get_conversation_by_token(group.token)
    assert (got.name, got.description, got.conversation_type) == ("Renamed", "About", ConversationType.PUBLIC)
    assert got.has_password is True and got.read_only is True and got.is_favorite is True
    assert got.notification_level == NotificationLevel.NEVER_NOTIFY
    nc.talk.set_conversation_password(group, "")
    nc.talk.set_conversation_public(group, False)
    nc.talk.set_conversation_fav(group, False)
    got = nc.talk.get_conversation_by_token(group.token)
    assert got.conversation_type == ConversationType.GROUP and got.is_favorite is False
    with pytest.raises(NextcloudException) as info:
        bob.talk.get_conversation_by_token(group.token)
    assert info.value.status_code == 404
    nc.talk.delete_conversation(group)
    assert [c.token for c in nc.talk.get_user_conversations()] == [one.token]
    dbm.release_connection()


def test_concurrent_one_to_one_creation_yields_one_room(live_server, seeded):
    from concurrent.futures import ThreadPoolExecutor

    from conversations.models import Room

    def create(i):
        user, password, other = ("admin1", "adminpw", "bob") if i % 2 else ("bob", "bobpw", "admin1")
        body = json.dumps({"roomType": 1, "invite": other}).encode()
        status, _, payload = request(
            seeded,
            "POST",
            "/ocs/v2.php/apps/spreed/api/v4/room?format=json",
            headers={
                "OCS-APIRequest": "true",
                "Authorization": basic(user, password),
                "Content-Type": "application/json",
            },
            body=body,
        )
        return status, json.loads(payload)["ocs"]["data"].get("token")

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(create, range(16)))
    statuses = sorted(s for s, _ in results)
    assert set(statuses) <= {200, 201}, results
    assert statuses.count(201) == 1, results
    assert len({t for _, t in results}) == 1
    assert Room.select().count() == 1
    dbm.release_connection()


def test_concurrent_joins_and_leaves_keep_the_list_consistent(live_server, seeded):
    from concurrent.futures import ThreadPoolExecutor
    from http.cookies import SimpleCookie

    from conversations.models import Attendee
    from participants.models import TalkSession

    admin = {
        "OCS-APIRequest": "true",
        "Authorization": basic("admin1", "adminpw"),
        "Content-Type": "application/json",
    }
    status, _, body = request(
        seeded,
        "POST",
        "/ocs/v2.php/apps/spreed/api/v4/room?format=json",
        headers=admin,
        body=json.dumps({"roomType": 3, "roomName": "Busy"}).encode(),
    )
    token = json.loads(body)["ocs"]["data"]["token"]
    path = f"/ocs/v2.php/apps/spreed/api/v4/room/{token}/participants/active?format=json"

    def cycle(i):
        """One client: join, leave, join again; keeps its cookie like a real client."""
        headers = {"OCS-APIRequest": "true"}
        if i % 2:
            headers["Authorization"] = basic("bob", "bobpw")
        statuses = []
        for method in ("POST", "DELETE", "POST"):
            status, response_headers, _ = request(seeded, method, path, headers=headers)
            statuses.append(status)
            cookie = {k.lower(): v for k, v in response_headers.items()}.get("set-cookie")
            if cookie:
                jar = SimpleCookie(cookie)
                headers["Cookie"] = f"ocs_talk_session={jar['ocs_talk_session'].value}"
        return statuses

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(cycle, range(24)))
    assert all(r == [200, 200, 200] for r in results), results
    rows = list(Attendee.select().where(Attendee.actor_type != "users").order_by(Attendee.id))
    users = list(Attendee.select().where(Attendee.actor_type == "users").order_by(Attendee.id))
    # 12 guests rejoined with their own identity (one attendee each); bob is one self-joined attendee
    assert len(rows) == 12
    assert [(a.actor_id, a.participant_type) for a in users if a.actor_id == "bob"] == [("bob", 5)]
    sessions = TalkSession.select().count()
    assert sessions == 24  # every client ended joined: one live session each
    dbm.release_connection()


def test_nc_py_api_participants_guests_lobby(seeded):
    from nc_py_api.talk import ConversationType

    nc = Nextcloud(nextcloud_url=seeded.url, nc_auth_user="admin1", nc_auth_pass="adminpw")
    bob = Nextcloud(nextcloud_url=seeded.url, nc_auth_user="bob", nc_auth_pass="bobpw")
    room = nc.talk.create_conversation(ConversationType.GROUP, room_name="Managed")
    base = f"/ocs/v2.php/apps/spreed/api/v4/room/{room.token}"
    assert nc.ocs("POST", f"{base}/participants", json={"newParticipant": "bob", "source": "users"}) == []
    people = nc.talk.list_participants(room)
    assert [(p.actor_id, p.participant_type) for p in people] == [("admin1", 1), ("bob", 3)]
    bob_id = people[1].attendee_id
    nc.ocs("POST", f"{base}/moderators", json={"attendeeId": bob_id})
    assert [p.participant_type for p in nc.talk.list_participants(room)] == [1, 2]
    nc.ocs("DELETE", f"{base}/moderators", params={"attendeeId": bob_id})
    assert [p.participant_type for p in nc.talk.list_participants(room)] == [1, 3]
    # lobby on: bob waits, the owner does not
    lobby = nc.ocs("PUT", f"{base}/webinar/lobby", json={"state": 1})
    assert lobby["lobbyState"] == 1
    with pytest.raises(NextcloudException) as info:
        bob.talk.list_participants(room)
    assert info.value.status_code == 412
    nc.ocs("PUT", f"{base}/webinar/lobby", json={"state": 0})
    assert len(bob.talk.list_participants(room)) == 2
    # a guest joins a password-protected public room: wrong, then right
    nc.talk.set_conversation_public(room, True)
    nc.talk.set_conversation_password(room, "guest-pass")
    guest = Nextcloud(nextcloud_url=seeded.url, nc_auth_user="", nc_auth_pass="")
    with pytest.raises(NextcloudException) as info:
        guest.ocs("POST", f"{base}/participants/active", json={"password": "nope"})
    assert info.value.status_code == 403
    joined = guest.ocs("POST", f"{base}/participants/active", json={"password": "guest-pass"})
    assert joined["participantType"] == 4 and joined["sessionId"] != "0"
    assert guest.ocs("GET", base)["sessionId"] == joined["sessionId"]  # the cookie was kept
    assert [p.actor_type for p in nc.talk.list_participants(room)] == ["users", "users", "guests"]
    guest.ocs("DELETE", f"{base}/participants/active")
    assert [p.actor_type for p in nc.talk.list_participants(room)] == ["users", "users"]
    # remove bob, then leave
    nc.ocs("DELETE", f"{base}/attendees", params={"attendeeId": bob_id})
    assert [p.actor_id for p in nc.talk.list_participants(room)] == ["admin1"]
    nc.talk.leave_conversation(room)
    assert nc.talk.get_user_conversations() == []
    dbm.release_connection()


def test_nc_py_api_chat(seeded):
    """nc_py_api's chat methods: send, receive, reply, reactions, delete, and the read marker."""
    from nc_py_api.talk import ConversationType

    nc = Nextcloud(nextcloud_url=seeded.url, nc_auth_user="admin1", nc_auth_pass="adminpw")
    bob = Nextcloud(nextcloud_url=seeded.url, nc_auth_user="bob", nc_auth_pass="bobpw")
    room = nc.talk.create_conversation(ConversationType.GROUP, room_name="Chat room", invite="")
    nc.ocs(
        "POST",
        f"/ocs/v2.php/apps/spreed/api/v4/room/{room.token}/participants",
        json={"newParticipant": "bob"},
    )
    first = nc.talk.send_message("hello **bob**", room)
    assert first.message == "hello **bob**" and first.actor_id == "admin1" and first.message_type == "comment"
    reply = bob.talk.send_message("hi back", room.token, reply_to_message=first)
    assert reply.actor_id == "bob"
    history = nc.talk.receive_messages(room, limit=10)
    comments = [m for m in history if m.message_type == "comment"]
    assert [m.message for m in comments] == ["hi back", "hello **bob**"]
    assert any(m.system_message == "user_added" for m in history)
    reactions = bob.talk.react_to_message(first, "👍", room)
    assert [r.actor_id for r in reactions["👍"]] == ["bob"]
    assert [r.actor_id for r in nc.talk.get_message_reactions(first, conversation=room)["👍"]] == ["bob"]
    assert bob.talk.delete_reaction(first, "👍", room) == {}
    deleted = bob.talk.delete_message(reply, room)
    assert deleted.system_message == "message_deleted"
    newest = nc.talk.receive_messages(room, limit=1)[0]
    bob.ocs(
        "POST",
        f"/ocs/v2.php/apps/spreed/api/v1/chat/{room.token}/read",
        json={"lastReadMessage": newest.message_id},
    )
    listed = {c.token: c for c in bob.talk.get_user_conversations()}
    assert listed[room.token].unread_messages_count == 0
    last = listed[room.token].last_message  # the deleted reply: edits, deletes and reactions do not count
    assert last.message_id == reply.message_id and last.message_type == "comment_deleted"


def test_revoked_app_password_is_refused_by_every_worker_at_once(seeded, tmp_path, database_url):
    """Two workers, no cache for app passwords (L7): the next request after a revocation fails."""
    headers = {"OCS-APIRequest": "true", "Accept": "application/json", "User-Agent": "Talk test"}
    status, _, body = request(
        seeded,
        "GET",
        "/ocs/v2.php/core/getapppassword",
        headers={**headers, "Authorization": basic("bob", "bobpw")},
    )
    assert status == 200
    token = json.loads(body)["ocs"]["data"]["apppassword"]
    auth = {**headers, "Authorization": basic("bob", token)}
    assert all(request(seeded, "GET", "/ocs/v2.php/cloud/user", headers=auth)[0] == 200 for _ in range(20))
    status, _, _ = request(seeded, "DELETE", "/ocs/v2.php/core/apppassword", headers=auth)
    assert status == 200
    # every failure counts as a failed login: stay below the throttle's 10 attempts
    refused = [request(seeded, "GET", "/ocs/v2.php/cloud/user", headers=auth)[0] for _ in range(7)]
    assert refused == [401] * 7
    # and rotation: the old secret is refused everywhere from the commit on
    status, _, body = request(
        seeded,
        "GET",
        "/ocs/v2.php/core/getapppassword",
        headers={**headers, "Authorization": basic("bob", "bobpw")},
    )
    old = json.loads(body)["ocs"]["data"]["apppassword"]
    status, _, body = request(
        seeded,
        "POST",
        "/ocs/v2.php/core/apppassword/rotate",
        headers={**headers, "Authorization": basic("bob", old)},
    )
    new = json.loads(body)["ocs"]["data"]["apppassword"]
    assert [
        request(
            seeded, "GET", "/ocs/v2.php/cloud/user", headers={**headers, "Authorization": basic("bob", old)}
        )[0]
        for _ in range(2)
    ] == [401] * 2
    assert (
        request(
            seeded, "GET", "/ocs/v2.php/cloud/user", headers={**headers, "Authorization": basic("bob", new)}
        )[0]
        == 200
    )
    # no secret in the logs or in the database file
    seeded.process.terminate()
    seeded.process.wait(30)
    logs = "".join(p.read_text() for p in tmp_path.glob("gunicorn-*.log"))
    for secret in (token, old, new, "bobpw"):
        assert secret not in logs
    if database_url.startswith("sqlite"):
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("talk.db*"))
        for secret in (token, old, new, "bobpw"):
            assert secret.encode() not in raw


CAPABILITIES = "/ocs/v2.php/cloud/capabilities"


def test_account_changes_are_seen_by_every_worker_at_once(seeded):
    """Two workers with bob's credentials cached (on SQLite without reading his row): a password
    changed through the API and a display name changed by another process (this one) count on
    the very next request, whichever worker serves it."""
    headers = {"OCS-APIRequest": "true", "Accept": "application/json"}
    old = {**headers, "Authorization": basic("bob", "bobpw")}
    assert all(request(seeded, "GET", CAPABILITIES, headers=old)[0] == 200 for _ in range(20))
    status, _, _ = request(
        seeded,
        "PUT",
        "/ocs/v2.php/cloud/users/bob",
        headers={
            **headers,
            "Authorization": basic("admin1", "adminpw"),
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body=b"key=password&value=bob-new-pw",
    )
    assert status == 200
    # every failure counts as a failed login: stay below the throttle's 10 attempts
    refused = [request(seeded, "GET", CAPABILITIES, headers=old)[0] for _ in range(7)]
    assert refused == [401] * 7
    new = {**headers, "Authorization": basic("bob", "bob-new-pw")}
    assert all(request(seeded, "GET", CAPABILITIES, headers=new)[0] == 200 for _ in range(20))
    accounts.set_display_name("bob", "Robert")
    dbm.release_connection()
    for index in range(6):  # each creates a room as the request's user: the new name everywhere
        status, _, body = request(
            seeded,
            "POST",
            "/ocs/v2.php/apps/spreed/api/v4/room",
            headers={**new, "Content-Type": "application/json"},
            body=json.dumps({"roomType": 2, "roomName": f"R{index}"}).encode(),
        )
        assert status == 201
        token = json.loads(body)["ocs"]["data"]["token"]
        status, _, body = request(
            seeded, "GET", f"/ocs/v2.php/apps/spreed/api/v4/room/{token}/participants", headers=new
        )
        assert [m["displayName"] for m in json.loads(body)["ocs"]["data"]] == ["Robert"]


def browse_and_grant(login_url: str, user: str, password: str) -> None:
    """What a person does in the browser the app opened: log in, then grant access."""
    import http.cookiejar
    import re
    import urllib.parse
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def hidden(html):
        return dict(re.findall(r'name="(stateToken|requesttoken)" value="([^"]*)"', html))

    with opener.open(login_url, timeout=30) as page:  # 303 to "Connect to your account"
        form = page.read().decode()
        base = page.url.split("/index.php/")[0]
    assert "Connect to your account" in form
    data = urllib.parse.urlencode({"user": user, "password": password, **hidden(form)}).encode()
    with opener.open(base + "/index.php/login/v2/login", data=data, timeout=30) as page:  # 303 to the grant
        grant = page.read().decode()
    assert "Account access" in grant
    data = urllib.parse.urlencode(hidden(grant)).encode()
    with opener.open(base + "/index.php/login/v2/grant", data=data, timeout=30) as page:
        assert "Account connected" in page.read().decode()


def test_nc_py_api_login_flow_v2(seeded):
    """nc_py_api 0.30.3's loginflow_v2 helpers against a live gunicorn, then the app password."""
    import threading

    nc = Nextcloud(nextcloud_url=seeded.url, nc_auth_user="", nc_auth_pass="")
    flow = nc.loginflow_v2.init(user_agent="nc_py_api test")
    assert flow.endpoint == seeded.url + "/index.php/login/v2/poll"
    person = threading.Thread(target=browse_and_grant, args=(flow.login, "bob", "bobpw"))
    person.start()
    credentials = nc.loginflow_v2.poll(flow.token, timeout=60, step=1)
    person.join(30)
    assert credentials.server == seeded.url and credentials.login_name == "bob"
    assert len(credentials.app_password) == 72
    bob = Nextcloud(
        nextcloud_url=credentials.server, nc_auth_user="bob", nc_auth_pass=credentials.app_password
    )
    assert bob.user == "bob"


def test_no_secret_of_a_login_reaches_the_log_or_the_database(live_server, database_url, tmp_path):
    """The access log at INFO level: flow tokens are masked, passwords never appear."""
    server = live_server(env={"TALK_SERVER__LOG_LEVEL": "INFO"})
    seed_users(database_url, "carol")
    nc = Nextcloud(nextcloud_url=server.url, nc_auth_user="", nc_auth_pass="")
    flow = nc.loginflow_v2.init(user_agent="log check")
    browse_and_grant(flow.login, "carol", "carolpw")
    credentials = nc.loginflow_v2.poll(flow.token, timeout=30, step=1)
    carol = Nextcloud(nextcloud_url=server.url, nc_auth_user="carol", nc_auth_pass=credentials.app_password)
    assert carol.user == "carol"
    server.process.terminate()
    server.process.wait(30)
    logs = "".join(p.read_text() for p in tmp_path.glob("gunicorn-*.log"))
    assert "GET /login/v2/flow/*** 303" in logs  # the landing was logged, its token masked
    login_token = flow.login.rsplit("/", 1)[1]
    secrets = (flow.token, login_token, credentials.app_password, "carolpw")
    for secret in secrets:
        assert secret not in logs
    if database_url.startswith("sqlite"):
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("talk.db*"))
        for secret in secrets:
            assert secret.encode() not in raw
