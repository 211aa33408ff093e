"""Two app servers (separate gunicorn instances on different ports) sharing one database: what
one of them writes, the other sees at once — rooms, throttle attempts, cookie sessions, credential
revocation and chat. Runs in the PostgreSQL pass (several hosts share a PostgreSQL database); on
SQLite both instances share the file (and its change signal, for account changes)."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.request

from ocs import db as dbm
from ocs.throttle import BruteforceAttempt
from tests.conftest import basic, seed_users
from tests.test_reliability_live import call


def test_two_app_servers_share_everything_through_the_database(live_server, database_url):
    secret = {"TALK_SERVER__SECRET": "s" * 48}  # app servers sharing a database share the secret
    one = live_server(env=secret)
    two = live_server(env=secret)
    seed_users(database_url, "alice", "bob")
    # a room created through one is in the list served by the other
    status, _, data = call(
        one, "POST", "/room", body={"roomType": 3, "roomName": "Shared", "participants": {"users": ["bob"]}}
    )
    assert status == 201
    token = data["ocs"]["data"]["token"]
    for _ in range(6):  # the list is now cached by the workers of two
        status, _, data = call(two, "GET", "/room", user="bob")
        assert [r["token"] for r in data["ocs"]["data"]] == [token]
    # a rename through two is seen at once through one, as is a message
    status, _, _ = call(two, "PUT", f"/room/{token}", body={"roomName": "Renamed"})
    assert status == 200
    assert call(one, "GET", f"/room/{token}", user="bob")[2]["ocs"]["data"]["name"] == "Renamed"
    headers = {
        "OCS-APIRequest": "true",
        "Accept": "application/json",
        "Authorization": basic("alice", "alicepw"),
    }
    req = urllib.request.Request(
        f"{one.url}/ocs/v2.php/apps/spreed/api/v1/chat/{token}",
        data=b"message=from+one",
        headers=headers,
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 - loopback only
        message_id = json.loads(response.read())["ocs"]["data"]["id"]
    # every worker of two had bob's list cached (read above and here); each answers the new one
    for _ in range(6):
        listed = call(two, "GET", "/room", user="bob")[2]["ocs"]["data"][0]
        assert listed["lastMessage"]["id"] == message_id and listed["unreadMessages"] == 1
    # throttle attempts registered by one count on two
    for i in range(3):
        assert call(one, "GET", "/room", user="alice", body=None)[0] == 200
        bad = urllib.request.Request(
            f"{one.url}/ocs/v2.php/cloud/user",
            headers={"OCS-APIRequest": "true", "Authorization": basic("bob", f"wrong{i}")},
        )
        try:
            urllib.request.urlopen(bad, timeout=30)  # noqa: S310 - loopback only
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
    assert BruteforceAttempt.select().where(BruteforceAttempt.action == "login").count() == 3
    dbm.release_connection()
    # a guest's cookie session made on one works on two
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    guest = {"OCS-APIRequest": "true", "Accept": "application/json"}
    joined = opener.open(
        urllib.request.Request(
            f"{one.url}/ocs/v2.php/apps/spreed/api/v4/room/{token}/participants/active",
            data=b"",
            headers=guest,
            method="POST",
        ),
        timeout=30,
    )
    assert joined.status == 200
    cookie = next(c for c in jar if c.name == "ocs_talk_session")
    seen = urllib.request.Request(
        f"{two.url}/ocs/v2.php/apps/spreed/api/v4/room/{token}",
        headers={**guest, "Cookie": f"ocs_talk_session={cookie.value}"},
    )
    with urllib.request.urlopen(seen, timeout=30) as response:  # noqa: S310 - loopback only
        assert json.loads(response.read())["ocs"]["data"]["participantType"] == 4
    # an app password revoked through one is refused by two on the next request
    status, _, data = call(one, "GET", "/room", user="alice")
    app_req = urllib.request.Request(
        f"{one.url}/ocs/v2.php/core/getapppassword", headers={**headers, "User-Agent": "multi"}
    )
    with urllib.request.urlopen(app_req, timeout=30) as response:  # noqa: S310 - loopback only
        app_password = json.loads(response.read())["ocs"]["data"]["apppassword"]
    app_auth = {
        "OCS-APIRequest": "true",
        "Accept": "application/json",
        "Authorization": basic("alice", app_password),
    }
    check = urllib.request.Request(f"{two.url}/ocs/v2.php/cloud/user", headers=app_auth)
    with urllib.request.urlopen(check, timeout=30) as response:  # noqa: S310 - loopback only
        assert response.status == 200
    revoke = urllib.request.Request(
        f"{one.url}/ocs/v2.php/core/apppassword", headers=app_auth, method="DELETE"
    )
    with urllib.request.urlopen(revoke, timeout=30) as response:  # noqa: S310 - loopback only
        assert response.status == 200
    try:
        urllib.request.urlopen(check, timeout=30)  # noqa: S310 - loopback only
        raise AssertionError("the revoked app password still works on the other server")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
    # bob's account password (cached by the workers of two above) changed through one: the old
    # one is refused through two on the next request (on SQLite through the change signal)
    change = urllib.request.Request(
        f"{one.url}/ocs/v2.php/cloud/users/bob",
        data=b"key=password&value=bob-new-password",
        headers={
            "OCS-APIRequest": "true",
            "Authorization": basic("bob", "bobpw"),
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="PUT",
    )
    with urllib.request.urlopen(change, timeout=30) as response:  # noqa: S310 - loopback only
        assert response.status == 200
    assert [call(two, "GET", "/room", user="bob")[0] for _ in range(3)] == [401] * 3


def test_an_app_server_with_another_secret_refuses_to_start(live_server):
    import pytest

    live_server(env={"TALK_SERVER__SECRET": "a" * 48})
    with pytest.raises(RuntimeError, match="another secret"):
        live_server(env={"TALK_SERVER__SECRET": "b" * 48})
