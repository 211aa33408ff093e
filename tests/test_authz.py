"""Drives ``authz_matrix.py`` through HTTP: every route x room state x role, and every denied
request leaves the room exactly as it was."""

from __future__ import annotations

import falcon.inspect
import pytest

from tests.authz_matrix import PLAIN_ROUTES, ROLES, SESSION_ROLE_STATUSES, SESSION_ROLES, TOKEN_ROUTES
from tests.participants_helpers import Guest
from tests.talk import api, create, set_type, snapshot
from tests.test_conversations_mutations import png, upload

UIDS = {"owner": "alice", "moderator": "mo", "user": "bob", "stranger": "mallory", "anonymous": None}


@pytest.fixture
def matrix_client(make_client):
    client = make_client({"talk": {"features": {"message-expiration": True}}})
    for uid in ("alice", "mo", "bob", "mallory", "tgt", "extra"):
        client.add_user(uid, "pw", display_name=uid.title())
    return client


def fresh_room(client, state: str) -> tuple[str, str]:
    """A new room in ``state`` (G group, P public, L listable group, O one-to-one)."""
    if state == "O":
        # a new pair every time, so each call starts from a fresh one-to-one
        fresh_room.counter = getattr(fresh_room, "counter", 0) + 1
        partner = f"bob{fresh_room.counter}"
        client.add_user(partner, "pw")
        token = create(client, "alice", roomType=1, invite=partner)["token"]
        # C23: the partner joins when they first open it
        assert client.ocs("GET", api() + f"/room/{token}", user=partner, password="pw").status_int == 200
        return token, partner
    token = create(
        client,
        "alice",
        roomType=3 if state == "P" else 2,
        roomName="Matrix",
        participants={"users": ["mo", "bob", "tgt"]},
        listable=1 if state == "L" else 0,
    )["token"]
    set_type(token, "mo", 2)
    return token, "bob"


def attendee_id(token: str, uid: str) -> int:
    from conversations.models import Attendee, Room

    room = Room.get(Room.token == token)
    return Attendee.get((Attendee.room == room.id) & (Attendee.actor_id == uid)).id


def owner_message(client, token: str) -> int:
    """A fresh message by the owner, for routes that address one."""
    r = client.ocs("POST", api("v1") + f"/chat/{token}", user="alice", form={"message": "by the owner"})
    assert r.status_int == 201, r.text
    return client.data(r)["id"]


def chat_path(client, token: str, suffix: str) -> str:
    msg = owner_message(client, token) if "{msg}" in suffix else 0
    return api("v1") + suffix.format(token=token, msg=msg)


def do(client, method, token, suffix, kwargs, uid, target):
    kwargs = dict(kwargs)
    version = kwargs.pop("version", "v4")
    if "form" in kwargs:
        kwargs["form"] = {
            k: (attendee_id(token, target) if v == "@tgt" else v) for k, v in kwargs["form"].items()
        }
    if kwargs.pop("chat", False):
        path = chat_path(client, token, suffix)
        if kwargs.pop("react_first", False) and uid:
            client.ocs("POST", path, user=uid, form=kwargs["form"])
        return snapshot(token), client.ocs(method, path, user=uid, **kwargs)
    before = snapshot(token)
    if kwargs.pop("guest_path", False):
        return before, client.ocs(method, api(version) + f"/guest/{token}/name", user=uid, **kwargs)
    if kwargs.pop("avatar_upload", False):
        return before, upload(client, token, png(2, 2), user=uid)
    if kwargs.pop("raw", False):
        headers = {"Authorization": client_auth(uid)} if uid else {}
        return before, client.test.get(
            f"/ocs/v2.php{api(version)}/room/{token}{suffix}?format=json", headers=headers, status="*"
        )
    return before, client.ocs(method, api(version) + f"/room/{token}{suffix}", user=uid, **kwargs)


def client_auth(uid):
    from tests.conftest import basic

    return basic(uid, "pw")


CASES = [
    pytest.param(method, suffix, kwargs, state, expected, id=f"{method} {template} {state}")
    for method, template, suffix, kwargs, states in TOKEN_ROUTES
    for state, expected in states.items()
]


@pytest.mark.parametrize(("method", "suffix", "kwargs", "state", "expected"), CASES)
def test_token_route_matrix(matrix_client, method, suffix, kwargs, state, expected):
    client = matrix_client
    for role, want in zip(ROLES, expected.split(), strict=True):
        if want == "-":
            continue
        token, second = fresh_room(client, state)
        uid = second if (state == "O" and role == "user") else UIDS[role]
        client.passwords.setdefault(uid, "pw") if uid else None
        # the target: a plain user in group/public rooms; in a one-to-one, the other owner
        target = "tgt" if state != "O" else (second if uid == "alice" else "alice")
        before, r = do(client, method, token, suffix, kwargs, uid, target)
        assert r.status_int == int(want), f"{role}: {r.status_int} {r.text[:200]}"
        if not 200 <= r.status_int < 300:
            assert snapshot(token) == before, role


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "expected"), PLAIN_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in PLAIN_ROUTES]
)
def test_plain_route_matrix(matrix_client, method, path, kwargs, expected):
    user_status, anonymous_status = (int(x) for x in expected.split())
    kwargs = dict(kwargs)
    version = kwargs.pop("version", "v4")
    assert matrix_client.ocs(method, api(version) + path, user="bob", **kwargs).status_int == user_status
    assert matrix_client.ocs(method, api(version) + path, **kwargs).status_int == anonymous_status


def test_every_talk_route_is_in_the_matrix(make_app):
    app = make_app()
    prefix = "/ocs/apps/spreed/api/{apiVersion}"
    served = set()
    for route in falcon.inspect.inspect_routes(app):
        if not route.path.startswith(prefix):
            continue
        for method in route.methods:
            if method.internal or method.method in ("OPTIONS",):
                continue
            served.add((method.method, route.path[len(prefix) :]))
    covered = {(m, t) for m, t, *_ in TOKEN_ROUTES} | {(m, p) for m, p, *_ in PLAIN_ROUTES}
    assert served - covered == set(), "routes without a row in tests/authz_matrix.py"
    assert covered - served == set(), "matrix rows for routes the app does not serve"


SESSION_CASES = [
    pytest.param(method, template, suffix, kwargs, id=f"{method} {template}")
    for method, template, suffix, kwargs, _ in TOKEN_ROUTES
]


def agent_owner(agent):
    return agent.owner_client


def session_agent(client, token: str, role: str) -> Guest:
    """A client holding a Talk session in ``token`` as a guest, guest moderator or self-joined user."""
    if role == "self_joined":
        agent = Guest(client.app, user="mallory")
    else:
        agent = Guest(client.app)
    agent.owner_client = client
    data = agent.join(token).json["ocs"]["data"]
    if role == "guest_moderator":
        from conversations.models import Attendee

        Attendee.update(participant_type=6).where(Attendee.id == data["attendeeId"]).execute()
    return agent


def do_as(agent: Guest, method, token, suffix, kwargs, target):
    kwargs = dict(kwargs)
    version = kwargs.pop("version", "v4")
    form = {**kwargs.pop("params", {}), **kwargs.pop("form", {}), **kwargs.pop("json_body", {})}
    form = {k: (attendee_id(token, target) if v == "@tgt" else v) for k, v in form.items()}
    if kwargs.pop("chat", False):
        path = chat_path(agent_owner(agent), token, suffix)[len(api("v1")) :]
        if kwargs.pop("react_first", False):
            agent.call("POST", path, "v1", form)
        return snapshot(token), agent.call(method, path, "v1", form or None)
    before = snapshot(token)
    if kwargs.pop("guest_path", False):
        return before, agent.call(method, f"/guest/{token}/name", version, form or None)
    if kwargs.pop("avatar_upload", False):
        boundary = "XyZ"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
                "Content-Type: image/png\r\n\r\n"
            ).encode()
            + png(2, 2)
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return before, agent.call(
            method,
            f"/room/{token}{suffix}",
            version,
            body=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
    kwargs.pop("raw", None)
    return before, agent.call(method, f"/room/{token}{suffix}", version, form or None)


@pytest.mark.parametrize(("method", "template", "suffix", "kwargs"), SESSION_CASES)
def test_session_roles_in_public_rooms(matrix_client, method, template, suffix, kwargs):
    client = matrix_client
    expected = SESSION_ROLE_STATUSES[(method, template)]
    for role, want in zip(SESSION_ROLES, expected.split(), strict=True):
        token, _ = fresh_room(client, "P")
        agent = session_agent(client, token, role)
        before, r = do_as(agent, method, token, suffix, kwargs, "tgt")
        assert r.status_int == int(want), f"{role}: {r.status_int} {r.text[:200]}"
        if not 200 <= r.status_int < 300:
            assert snapshot(token) == before, role


def test_every_token_route_has_session_role_rows():
    assert {(m, t) for m, t, *_ in TOKEN_ROUTES} == set(SESSION_ROLE_STATUSES)
