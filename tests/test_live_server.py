"""Against a real gunicorn on loopback: nc_py_api interop, several workers sharing state,
and transport limits that only a real server exercises (chunked bodies)."""

from __future__ import annotations

import http.client
import json
import os
from urllib.parse import urlsplit

import pytest
from nc_py_api import Nextcloud, NextcloudException

from ocs import db as dbm
from ocs.accounts import service as accounts
from ocs.accounts.passwords import Passwords
from ocs.config import load_config
from ocs.throttle import BruteforceAttempt
from tests.conftest import basic


@pytest.fixture
def seeded(live_server, database_url):
    server = live_server()
    config = load_config(
        path=os.devnull,
        environ={},
        overrides={
            "database": {"url": database_url},
            "passwords": {"argon2_memory_cost": 1024, "argon2_time_cost": 1},
        },
    )
    dbm.db.initialize(dbm.make_database(config))
    accounts.create_user(Passwords(config), "admin1", "adminpw", "Admin One", groups=["admin"])
    accounts.create_user(Passwords(config), "bob", "bobpw", "Bob")
    dbm.release_connection()
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
