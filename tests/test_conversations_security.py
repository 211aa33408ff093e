"""No existence oracle, throttled token probing, denied requests, user deletion (security.md)."""

from __future__ import annotations

import pytest

from conversations.models import Attendee, Room
from ocs.throttle import BruteforceAttempt
from tests.talk import api, create, meta

STRIP = ("x-request-id",)


@pytest.fixture
def world(client):
    for uid in ("alice", "bob", "mallory"):
        client.add_user(uid, "pw", display_name=uid.title())
    client.add_user("root", "pw", groups=["admin"])
    group = create(client, "alice", roomName="Private plans", participants={"users": ["bob"]})
    one = create(client, "alice", roomType=1, invite="bob")
    client.ocs("GET", api() + f"/room/{one['token']}", user="bob")  # C23: bob opens it and joins
    public = create(client, "alice", roomType=3, roomName="Public secret name", description="hidden")
    return client, group["token"], one["token"], public["token"]


def comparable(r):
    return (
        r.status_int,
        r.body,
        sorted((k.lower(), v) for k, v in r.headers.items() if k.lower() not in STRIP),
    )


@pytest.mark.parametrize(
    ("method", "suffix", "kwargs"),
    [
        ("GET", "", {}),
        ("PUT", "", {"params": {"roomName": "x"}}),
        ("DELETE", "", {}),
        ("POST", "/favorite", {}),
        ("POST", "/notify", {"form": {"level": 1}}),
        ("PUT", "/webinar/lobby", {"form": {"state": 1}}),
        ("GET", "/capabilities", {}),
    ],
)
def test_stranger_gets_exactly_the_unknown_token_answer(world, method, suffix, kwargs):
    client, group, one, _ = world
    unknown = client.ocs(method, api() + f"/room/zzzzzzzz{suffix}", user="mallory", **kwargs)
    for token in (group, one):
        r = client.ocs(method, api() + f"/room/{token}{suffix}", user="mallory", **kwargs)
        assert comparable(r)[0] == 404
        assert comparable(r)[1:] == comparable(unknown)[1:], token
    assert BruteforceAttempt.select().where(BruteforceAttempt.action == "talkRoomToken").count() == 3


def test_public_room_hides_private_fields_from_strangers(world):
    client, _, _, public = world
    for user in ("mallory", None):
        data = client.data(client.ocs("GET", api() + f"/room/{public}", user=user))
        assert b"Public secret name" not in client.ocs("GET", api() + f"/room/{public}", user=user).body
        assert data["description"] == ""


def test_token_probing_is_throttled(world):
    client, group, _, _ = world
    statuses = []
    for i in range(12):
        token = group if i % 2 else f"nope{i:04d}"
        statuses.append(client.ocs("GET", api() + f"/room/{token}", user="mallory").status_int)
    assert statuses == [404] * 10 + [429, 429]
    assert BruteforceAttempt.select().count() == 11
    r = client.ocs("GET", api() + f"/room/{group}", user="alice")
    assert r.status_int == 429  # same subnet: blocked for everyone behind it
    assert meta(r)["message"] == "Reached maximum delay"


def test_bad_token_syntax_is_an_unknown_route(world):
    client, *_ = world
    for token in ("ABCDEFGH", "abc", "a" * 31, "abc-defg"):
        r = client.ocs("GET", api() + f"/room/{token}", user="alice")
        assert meta(r)["statuscode"] == 998, token
    assert BruteforceAttempt.select().count() == 0


def test_wrong_api_version_is_an_unknown_route(world):
    client, group, *_ = world
    for path in (
        f"/apps/spreed/api/v5/room/{group}",
        "/apps/spreed/api/v1/listed-room",
        f"/apps/spreed/api/v1/room/{group}/archive",
    ):
        r = client.ocs("GET" if "archive" not in path else "POST", path, user="alice", api_header=False)
        assert meta(r)["statuscode"] == 998 and r.status_int == 404, path


def test_anonymous_on_logged_in_routes_is_401_before_lookup(world):
    client, group, *_ = world
    for method, suffix in [
        ("POST", "/favorite"),
        ("POST", "/public"),
        ("PUT", "/read-only"),
        ("PUT", "/webinar/lobby"),
    ]:
        r = client.ocs(method, api() + f"/room/{group}{suffix}")
        assert r.status_int == 401, suffix
    assert BruteforceAttempt.select().count() == 0


def test_happy_paths_register_no_attempts(world):
    client, group, one, public = world
    client.ocs("GET", api() + "/room", user="alice")
    for token in (group, one, public):
        client.ocs("GET", api() + f"/room/{token}", user="alice")
    client.ocs("PUT", api() + f"/room/{group}", user="alice", params={"roomName": "n"})
    client.ocs("GET", api() + f"/room/{public}")
    assert BruteforceAttempt.select().count() == 0


def test_deleting_a_user(world):
    client, group, one, public = world
    note = client.data(client.ocs("GET", api() + "/room/note-to-self", user="alice"))["token"]
    alone = create(client, "alice", roomName="Only alice")["token"]
    assert client.ocs("DELETE", "/cloud/users/alice", user="root").status_int == 200
    # the one-to-one becomes a former one-to-one for bob
    data = client.data(client.ocs("GET", api() + f"/room/{one}", user="bob"))
    assert (data["type"], data["readOnly"], data["name"], data["displayName"]) == (5, 1, "Alice", "Alice")
    assert Room.get(Room.token == one).one_to_one_key is None
    assert Attendee.select().where(Attendee.actor_id == "alice").count() == 0
    for token in (note, alone, public):
        assert Room.get_or_none(Room.token == token) is None, token
    assert Room.get_or_none(Room.token == group) is not None  # bob is still there
    # a recreated alice inherits nothing
    client.add_user("alice", "pw2")
    assert client.data(client.ocs("GET", api() + "/room", user="alice")) == []
    assert client.ocs("GET", api() + f"/room/{group}", user="alice").status_int == 404
    # and bob can start a new one-to-one with the new alice
    r = client.ocs("POST", api() + "/room", user="bob", json_body={"roomType": 1, "invite": "alice"})
    assert r.status_int == 201 and client.data(r)["token"] != one


def test_renaming_a_user_updates_attendees(world):
    client, group, *_ = world
    client.ocs("PUT", "/cloud/users/bob", user="root", form={"key": "displayname", "value": "Robert"})
    assert (
        Attendee.get(
            (Attendee.actor_id == "bob") & (Attendee.room == Room.get(Room.token == group).id)
        ).display_name
        == "Robert"
    )
    data = client.data(client.ocs("GET", api("v1") + f"/room/{group}", user="alice"))
    assert data["participants"]["bob"]["name"] == "Robert"


def test_occ_user_delete_runs_the_same_cascade(world, database_url):
    import os
    import subprocess
    import sys
    from pathlib import Path

    client, _, one, _ = world
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALK_")}
    env["TALK_DATABASE__URL"] = database_url
    proc = subprocess.run(
        [sys.executable, "-m", "ocs.accounts.occ", "user:delete", "alice"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert Room.get(Room.token == one).type == 5
