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
