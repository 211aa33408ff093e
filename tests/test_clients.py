"""Replays of the mobile apps' start-up (clients.md §2.2–2.3) and the lobby walk (security.md §7)."""

from __future__ import annotations

import pytest

from tests.conftest import basic
from tests.participants_helpers import Guest
from tests.talk import api, create

ANDROID = {
    "User-Agent": "Mozilla/5.0 (Android) Nextcloud-Talk v20.1.0",
    "Accept": "application/json",
    "OCS-APIRequest": "true",
    "ngrok-skip-browser-warning": "true",
}
IOS = {
    "User-Agent": "Mozilla/5.0 (iOS) Nextcloud-Talk v24.0.0",
    "Accept": "application/json",
    "OCS-APIRequest": "true",
}


@pytest.fixture
def server(client):
    client.add_user("alice", "secret", display_name="Alice A")
    client.add_user("bob", "pw", display_name="Bob B")
    create(client, "alice", roomName="Team", participants={"users": ["bob"]})
    create(client, "alice", roomType=1, invite="bob")
    return client


def get(client, url, headers, user="alice", password="secret"):
    return client.test.get(url, headers={**headers, "Authorization": basic(user, password)}, status="*")


def test_android_startup(server):
    status = server.test.get("/status.php", headers={"User-Agent": ANDROID["User-Agent"]}).json
    assert (
        status["installed"] is True and status["maintenance"] is False and isinstance(status["version"], str)
    )
    assert status["upgrade"] is False
    caps = get(server, "/ocs/v2.php/cloud/capabilities", ANDROID).json["ocs"]["data"]
    spreed = caps["capabilities"]["spreed"]
    assert isinstance(spreed["features"], list) and spreed["features"]
    assert all(isinstance(v, dict) for v in spreed["config"].values())
    assert isinstance(spreed["config"]["conversations"]["description-length"], int)
    assert caps["version"]["major"] >= 26
    version = max(v for v in (4, 3, 2, 1) if f"conversation-v{v}" in spreed["features"])
    assert version == 4
    user = get(server, "/ocs/v2.php/cloud/user", ANDROID).json["ocs"]["data"]
    assert user["id"] == "alice" and user["display-name"] == "Alice A" and user["displayname"] == "Alice A"
    signaling = get(server, "/ocs/v2.php/apps/spreed/api/v1/signaling/settings", ANDROID)
    assert signaling.status_int == 200 and signaling.json["ocs"]["data"]["signalingMode"] == "internal"
    rooms = get(server, f"/ocs/v2.php/apps/spreed/api/v{version}/room", ANDROID)
    assert rooms.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    for room in rooms.json["ocs"]["data"]:
        for key in ("type", "participantType", "notificationLevel", "readOnly", "lobbyState"):
            assert isinstance(room[key], int) and not isinstance(room[key], bool), key
        for key in ("isFavorite", "hasPassword", "unreadMention", "canLeaveConversation"):
            assert isinstance(room[key], bool), key
        assert isinstance(room["lastMessage"], dict) and isinstance(room["lobbyTimer"], int)
        assert isinstance(room["lastMessage"]["messageParameters"], dict | list)


def test_ios_startup(server):
    caps = get(server, "/ocs/v1.php/cloud/capabilities", IOS).json["ocs"]
    assert caps["meta"]["statuscode"] == 100
    assert "conversation-v4" in caps["data"]["capabilities"]["spreed"]["features"]
    user = get(server, "/ocs/v2.php/cloud/user?format=json", IOS).json["ocs"]["data"]
    assert user["display-name"] == "Alice A"
    settings = get(server, "/ocs/v2.php/apps/spreed/api/v3/signaling/settings", IOS)
    assert settings.status_int == 200 and settings.json["ocs"]["data"]["userId"] == "alice"
    rooms = get(server, "/ocs/v2.php/apps/spreed/api/v4/room?noStatusUpdate=0&includeStatus=true", IOS)
    assert rooms.status_int == 200 and len(rooms.json["ocs"]["data"]) == 2
    assert len(rooms.headers["X-Nextcloud-Talk-Hash"]) == 40
    assert int(rooms.headers["X-Nextcloud-Talk-Modified-Before"]) > 0
    room = rooms.json["ocs"]["data"][0]
    joined = server.test.post(
        f"/ocs/v2.php/apps/spreed/api/v4/room/{room['token']}/participants/active",
        headers={**IOS, "Authorization": basic("alice", "secret")},
        status="*",
    )
    assert isinstance(joined.json["ocs"]["data"]["sessionId"], str)


def test_ios_force_mute_compat(make_client):
    client = make_client({"talk": {"compat": {"advertise_force_mute": True}}})
    features = client.data(client.ocs("GET", "/cloud/capabilities", v=1))["capabilities"]["spreed"][
        "features"
    ]
    assert "force-mute" in features


def test_lobby_walk(client):
    """With the lobby on, only the participant list answers 412, and only to those it holds back."""
    for uid in ("alice", "bob", "mallory"):
        client.add_user(uid, "pw")
    token = create(client, "alice", roomType=3, roomName="Webinar", participants={"users": ["bob"]})["token"]
    guest = Guest(client.app)
    guest.join(token)
    joined = Guest(client.app, user="mallory")
    joined.join(token)
    client.ocs("PUT", api() + f"/room/{token}/webinar/lobby", user="alice", form={"state": 1})
    bob = Guest(client.app, user="bob")
    for agent in (bob, joined, guest):
        assert agent.call("GET", f"/room/{token}/participants").status_int == 412
        assert agent.call("GET", f"/room/{token}").json["ocs"]["data"]["lobbyState"] == 1
        assert agent.join(token).status_int == 200
    assert bob.call("POST", f"/room/{token}/favorite").status_int == 200
    assert (
        guest.call("POST", f"/guest/{token}/name", version="v1", form={"displayName": "G"}).status_int == 200
    )
    assert bob.leave(token).status_int == 200
    assert client.ocs("GET", api() + f"/room/{token}/participants", user="alice").status_int == 200


# --- opening a conversation (chat-v2): join, first history page, long poll, post, read, leave ---

MESSAGE_TYPES = {
    "id": int,
    "token": str,
    "actorType": str,
    "actorId": str,
    "actorDisplayName": str,
    "timestamp": int,
    "message": str,
    "systemMessage": str,
    "messageType": str,
    "isReplyable": bool,
    "referenceId": str,
    "expirationTimestamp": int,
    "markdown": bool,
}


def check_message(message):
    """What the apps' message models parse: types, and ``[]``/``{}`` for empty containers."""
    for key, kind in MESSAGE_TYPES.items():
        assert isinstance(message[key], kind) and not (kind is int and isinstance(message[key], bool)), key
    assert message["messageParameters"] == [] or isinstance(message["messageParameters"], dict)
    assert isinstance(message["reactions"], dict)


def open_conversation(server, headers, version):
    """The requests an app sends when a user opens a conversation and writes in it."""
    import threading

    auth = {**headers, "Authorization": basic("bob", "pw")}
    rooms = server.test.get(f"/ocs/v2.php/apps/spreed/api/{version}/room", headers=auth).json["ocs"]["data"]
    room = next(r for r in rooms if r["name"] == "Team")
    token = room["token"]
    assert room["unreadMessages"] == 1 and room["lastMessage"]["message"] == "welcome, bob"
    features = server.test.get("/ocs/v2.php/cloud/capabilities", headers=auth).json["ocs"]["data"]
    assert "chat-v2" in features["capabilities"]["spreed"]["features"]
    joined = server.test.post(
        f"/ocs/v2.php/apps/spreed/api/{version}/room/{token}/participants/active",
        params={"force": "true"},
        headers=auth,
    )
    assert joined.status_int == 200
    base = f"/ocs/v2.php/apps/spreed/api/v1/chat/{token}"
    first = server.test.get(
        base,
        params={
            "lookIntoFuture": 0,
            "limit": 100,
            "setReadMarker": 1,
            "includeLastKnown": 1,
            "lastKnownMessageId": room["lastReadMessage"] if room["lastReadMessage"] > 0 else 0,
        },
        headers=auth,
    )
    assert first.status_int == 200
    messages = first.json["ocs"]["data"]
    for message in messages:
        check_message(message)
    last_given = int(first.headers["X-Chat-Last-Given"])
    assert "X-Chat-Last-Common-Read" in first.headers
    newest = max(m["id"] for m in messages)
    result = {}

    def poll():
        r = server.test.get(
            base,
            params={
                "lookIntoFuture": 1,
                "timeout": 30,
                "limit": 100,
                "setReadMarker": 1,
                "includeLastKnown": 0,
                "lastKnownMessageId": newest,
                "lastCommonReadId": first.headers["X-Chat-Last-Common-Read"],
            },
            headers=auth,
            status="*",
        )
        result["response"] = r

    waiter = threading.Thread(target=poll)
    waiter.start()
    import time

    time.sleep(0.3)
    posted = server.test.post(
        base,
        params={
            "message": "hello from the app",
            "actorDisplayName": "",
            "referenceId": "a" * 64,
            "replyTo": str(newest),
            "silent": "false",
        },
        headers=auth,
    )
    assert posted.status_int == 201
    mine = posted.json["ocs"]["data"]
    check_message(mine)
    assert mine["parent"]["id"] == newest and mine["referenceId"] == "a" * 64
    waiter.join(10)
    polled = result["response"]
    assert polled.status_int == 200
    assert [m["id"] for m in polled.json["ocs"]["data"]] == [mine["id"]]
    assert int(polled.headers["X-Chat-Last-Given"]) == mine["id"]
    read = server.test.post(base + "/read", params={"lastReadMessage": mine["id"]}, headers=auth)
    assert read.status_int == 200 and read.json["ocs"]["data"]["unreadMessages"] == 0
    left = server.test.delete(
        f"/ocs/v2.php/apps/spreed/api/{version}/room/{token}/participants/active", headers=auth
    )
    assert left.status_int == 200
    assert last_given <= newest


@pytest.fixture
def chatting(server):
    token = next(
        r for r in server.data(server.ocs("GET", api() + "/room", user="alice")) if r["name"] == "Team"
    )["token"]
    r = server.ocs("POST", api("v1") + f"/chat/{token}", user="alice", form={"message": "welcome, bob"})
    assert r.status_int == 201
    return server


def test_android_opens_a_conversation(chatting):
    open_conversation(chatting, ANDROID, "v4")


def test_ios_opens_a_conversation(chatting):
    open_conversation(chatting, IOS, "v4")


# --- adding an account: Android (Login Flow v2) and iOS (Login Flow v1), up to the room list ---


def test_android_adds_an_account_with_login_flow_v2(client):
    import re

    import webtest

    from tests.test_login_flow import fields, path_of

    client.add_user("alice", "secret", display_name="Alice A")
    create(client, "alice", roomName="Team")
    app = client.test
    status = app.get("/status.php", headers={"User-Agent": ANDROID["User-Agent"]}).json
    assert status["installed"] is True
    started = app.post(
        "/index.php/login/v2", headers={"User-Agent": ANDROID["User-Agent"], "Clear-Site-Data": "cookies"}
    ).json
    # the device's browser
    browser = webtest.TestApp(client.app)
    landing = browser.get(path_of(started["login"]))
    form = browser.get(path_of(landing.headers["Location"]))
    assert ANDROID["User-Agent"] in form.text
    assert app.post("/index.php/login/v2/poll", {"token": started["poll"]["token"]}, status=404).json == []
    r = browser.post("/index.php/login/v2/login", {"user": "alice", "password": "secret", **fields(form)})
    grant = browser.get(path_of(r.headers["Location"]))
    browser.post("/index.php/login/v2/grant", fields(grant))
    creds = app.post("/index.php/login/v2/poll", {"token": started["poll"]["token"]}).json
    assert creds["server"] == "http://localhost:80" and re.fullmatch(r"[A-Za-z0-9]{72}", creds["appPassword"])
    # from now on the app password, on every request
    headers = {**ANDROID, "Authorization": basic(creds["loginName"], creds["appPassword"])}
    caps = app.get("/ocs/v2.php/cloud/capabilities", headers=headers).json["ocs"]["data"]
    assert caps["capabilities"]["core"]["can-create-app-token"] is True
    user = app.get("/ocs/v2.php/cloud/user", headers=headers).json["ocs"]["data"]
    assert user["id"] == "alice" and user["display-name"] == "Alice A"
    rooms = app.get("/ocs/v2.php/apps/spreed/api/v4/room", headers=headers).json["ocs"]["data"]
    assert [r["name"] for r in rooms] == ["Team"]


def test_ios_adds_an_account_with_login_flow_v1(client):
    from urllib.parse import unquote

    import webtest

    from tests.test_login_flow import fields, path_of

    client.add_user("alice", "secret", display_name="Alice A")
    create(client, "alice", roomName="Team")
    app = client.test
    caps = app.get("/ocs/v1.php/cloud/capabilities", headers=IOS).json["ocs"]
    assert "conversation-v4" in caps["data"]["capabilities"]["spreed"]["features"]
    webview = webtest.TestApp(client.app)  # a non-persistent WKWebView
    form = webview.get(
        "/index.php/login/flow?user=alice",
        headers={"OCS-APIRequest": "true", "User-Agent": IOS["User-Agent"]},
    )
    assert 'value="alice"' in form.text
    r = webview.post("/index.php/login/flow/login", {"user": "alice", "password": "secret", **fields(form)})
    grant = webview.get(path_of(r.headers["Location"]))
    r = webview.post("/index.php/login/flow", fields(grant))
    parts = dict(p.split(":", 1) for p in r.headers["Location"][len("nc://login/") :].split("&"))
    user, password = unquote(parts["user"].replace("+", " ")), unquote(parts["password"])
    headers = {**IOS, "Authorization": basic(user, password)}
    assert app.get("/ocs/v2.php/cloud/user?format=json", headers=headers).json["ocs"]["data"]["id"] == "alice"
    settings = app.get("/ocs/v2.php/apps/spreed/api/v3/signaling/settings", headers=headers)
    assert settings.status_int == 200
    rooms = app.get("/ocs/v2.php/apps/spreed/api/v4/room", headers=headers).json["ocs"]["data"]
    assert [r["name"] for r in rooms] == ["Team"]
