"""Parameter fuzzing: every OCS route, every parameter it reads, every kind of bad value.

For each route a normal call first records which parameters the route reads (through the
``Params`` readers). Then each of those parameters is sent, with the others left at their
normal values, as: the empty string, a 100,000-digit number, negatives, a float, text, a list,
an object, JSON ``null`` and ``true``, invalid UTF-8 and a lone surrogate, in a form (or query)
and in a JSON body. Every answer must be an OCS envelope without a 5xx status, and an error
answer must leave the database exactly as it was.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import falcon.inspect
import pytest

from conversations.models import Attendee, Room
from ocs import db as dbm
from ocs.accounts import service as accounts
from ocs.params import Params
from tests.authz_matrix import PLAIN_ROUTES, TOKEN_ROUTES
from tests.conftest import basic
from tests.participants_helpers import Guest
from tests.talk import api, create, set_type

HUGE = "9" * 100_000

# name -> form/query encoding of the value (``{}`` is the parameter name)
FORM_VALUES = {
    "empty": "{}=",
    "huge": "{}=" + HUGE,
    "huge-negative": "{}=-" + HUGE,
    "negative": "{}=-1",
    "int64-overflow": "{}=" + "9" * 20,
    "float": "{}=1.5",
    "text": "{}=abc",
    "list": "{}[]=1&{}[]=2",
    "object": "{}[a]=1",
    "invalid-utf8": "{}=%FF%FE",
    "lone-surrogate": "{}=%ED%A0%80",
}

# name -> JSON literal of the value (bytes where the body must not be valid UTF-8)
JSON_VALUES = {
    "empty": '""',
    "huge": HUGE,
    "huge-text": '"' + HUGE + '"',
    "negative": "-1",
    "float": "1.5",
    "text": '"abc"',
    "list": "[1, 2]",
    "object": '{"a": 1}',
    "null": "null",
    "true": "true",
    "invalid-utf8": b'"\xff\xfe"',
    "lone-surrogate": '"\\ud800"',
}

# Tables whose rows legitimately change on an error answer: failed attempts are counted.
VOLATILE_TABLES = {"bruteforce_attempts", "sqlite_sequence"}

# OCS routes outside Talk: (method, template, normal parameters)
CORE_ROUTES = [
    ("GET", "/cloud/capabilities", {}),
    ("GET", "/cloud/user", {}),
    ("GET", "/cloud/users", {"search": "b", "limit": 5, "offset": 0}),
    (
        "POST",
        "/cloud/users",
        {"userid": "newbie", "password": "pw-newbie-1", "displayName": "N", "email": "", "groups": ["staff"]},
    ),
    ("GET", "/cloud/users/{userId}", {}),
    ("PUT", "/cloud/users/{userId}", {"key": "displayname", "value": "Victim V"}),
    ("DELETE", "/cloud/users/{userId}", {}),
    ("GET", "/cloud/users/{userId}/groups", {}),
    ("POST", "/cloud/users/{userId}/groups", {"groupid": "staff"}),
    ("DELETE", "/cloud/users/{userId}/groups", {"groupid": "staff"}),
    ("GET", "/cloud/groups", {"search": "s", "limit": 5, "offset": 0}),
    ("POST", "/cloud/groups", {"groupid": "newgroup"}),
    ("GET", "/cloud/groups/{groupId}", {}),
    ("PUT", "/cloud/groups/{groupId}", {"key": "displayname", "value": "Staff S"}),
    ("DELETE", "/cloud/groups/{groupId}", {}),
    ("GET", "/core/getapppassword", {}),
    ("DELETE", "/core/apppassword", {}),
    ("POST", "/core/apppassword/rotate", {}),
    ("PUT", "/core/apppassword/confirm", {"password": "pw"}),
]


def _route_cases():
    cases = []
    for method, template, suffix, kwargs, _ in TOKEN_ROUTES:
        kwargs = dict(kwargs)
        cases.append(pytest.param("token", method, template, suffix, kwargs, id=f"{method} {template}"))
    for method, path, kwargs, _ in PLAIN_ROUTES:
        cases.append(pytest.param("plain", method, path, path, dict(kwargs), id=f"{method} {path}"))
    for method, template, normal in CORE_ROUTES:
        cases.append(
            pytest.param("core", method, template, template, {"form": normal}, id=f"{method} {template}")
        )
    return cases


CASES = _route_cases()


def dump_database() -> dict:
    """Every row of every table but the volatile ones, in a comparable form."""
    database = dbm.db.obj
    result = {}
    for table in sorted(database.get_tables()):
        if table in VOLATILE_TABLES:
            continue
        rows = database.execute_sql(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608 - test code
        result[table] = sorted(repr(row) for row in rows)
    dbm.release_connection()
    return result


class Recorder:
    """Collects the names the ``Params`` readers are asked for during one request."""

    def __init__(self, monkeypatch):
        self.names: list[str] = []
        original = Params.raw

        def raw(params, name, default=None):
            if name not in self.names:
                self.names.append(name)
            return original(params, name, default)

        monkeypatch.setattr(Params, "raw", raw)


class Target:
    """Builds the request of one route against a fresh fixture world, and re-creates what a
    successful destructive call removed (the room, the victim user, the group)."""

    def __init__(self, client, kind, method, template, suffix, kwargs):
        self.client = client
        self.kind = kind
        self.method = method
        self.template = template
        self.suffix = suffix
        kwargs = dict(kwargs)
        self.version = kwargs.pop("version", "v4")
        self.guest_path = kwargs.pop("guest_path", False)
        kwargs.pop("avatar_upload", None)  # sent here as a form: the route reads no other parameter
        self.chat = kwargs.pop("chat", False)
        kwargs.pop("react_first", None)
        self.message_id = None
        kwargs.pop("raw", None)
        self.normal = {**kwargs.pop("params", {}), **kwargs.pop("form", {}), **kwargs.pop("json_body", {})}
        self.token = None
        self.guest = None
        self.ensure()

    def ensure(self):
        """(Re)create the room and the users a route acts on."""
        client = self.client
        if accounts.find_group("staff") is None:
            accounts.create_group("staff")
        if "victim" not in self._users():
            client.add_user("victim", "pw", groups=["staff"])
        if self.token is None or not self._room_complete():
            self.token = create(
                client, "alice", roomType=3, roomName="Fuzz", participants={"users": ["mo", "bob", "tgt"]}
            )["token"]
            set_type(self.token, "mo", 2)
            if self.guest_path:
                self.guest = Guest(client.app)
                self.guest.join(self.token)
        self.current_path = self.path()  # may post the message a route addresses: before snapshots
        dbm.release_connection()

    def _room_complete(self) -> bool:
        room = Room.get_or_none(Room.token == self.token)
        if room is None:
            return False
        present = {a.actor_id for a in Attendee.select().where(Attendee.room == room.id)}
        return {"alice", "mo", "bob", "tgt"} <= present

    def _users(self):
        rows = dbm.db.execute_sql("SELECT uid FROM users").fetchall()
        return {r[0] for r in rows}

    def path(self) -> str:
        if self.kind == "core":
            return self.template.replace("{userId}", "victim").replace("{groupId}", "staff")
        if self.kind == "plain":
            return api(self.version) + self.template
        if self.guest_path:
            return api(self.version) + f"/guest/{self.token}/name"
        if self.chat:
            return api("v1") + self.suffix.format(token=self.token, msg=self.message())
        return api(self.version) + f"/room/{self.token}{self.suffix}"

    def message(self) -> int:
        """A message of the owner that the route addresses (a new one once it was deleted)."""
        from chat.models import ChatMessage

        row = ChatMessage.get_or_none(ChatMessage.id == (self.message_id or 0))
        if row is None or row.verb != "comment":
            r = self.client.ocs(
                "POST", api("v1") + f"/chat/{self.token}", user="alice", form={"message": "m"}
            )
            assert r.status_int == 201, r.text
            self.message_id = self.client.data(r)["id"]
        dbm.release_connection()
        return self.message_id

    def normal_params(self) -> dict:
        from tests.test_authz import attendee_id

        return {k: (attendee_id(self.token, "tgt") if v == "@tgt" else v) for k, v in self.normal.items()}

    def send(self, query: str = "", body: bytes | None = None, content_type: str | None = None):
        headers = {"OCS-APIRequest": "true"}
        cookies_from = self.client.test
        if self.guest_path:
            cookies_from = self.guest.test
        else:
            headers["Authorization"] = basic("alice", "pw")
        url = f"/ocs/v2.php{self.current_path}?format=json"
        if query:
            url += "&" + query
        kwargs = {"method": self.method, "headers": headers, "status": "*", "expect_errors": True}
        if body is not None:
            kwargs["body"] = body
            headers["Content-Type"] = content_type
        return cookies_from.request(url, **kwargs)

    def send_form(self, fuzzed: str | None, encoded: str | None):
        parts = [_form_pair(k, v) for k, v in self.normal_params().items() if k != fuzzed]
        if fuzzed is not None:
            parts.append(encoded.replace("{}", quote(fuzzed)))
        text = "&".join(p for p in parts if p)
        if self.method == "GET":
            return self.send(query=text)
        return self.send(body=text.encode("ascii"), content_type="application/x-www-form-urlencoded")

    def send_json(self, fuzzed: str, literal):
        normal = {k: v for k, v in self.normal_params().items() if k != fuzzed}
        head = json.dumps(normal)[:-1]
        sep = ", " if normal else ""
        literal_bytes = literal if isinstance(literal, bytes) else literal.encode()
        body = head.encode() + sep.encode() + json.dumps(fuzzed).encode() + b": " + literal_bytes + b"}"
        return self.send(body=body, content_type="application/json")


def _form_pair(name, value) -> str:
    if isinstance(value, list):
        return "&".join(f"{quote(name)}[]={quote(str(v))}" for v in value)
    if isinstance(value, dict):
        return "&".join(f"{quote(name)}[{quote(k)}][]={quote(str(x))}" for k, vs in value.items() for x in vs)
    if isinstance(value, bool):
        return f"{quote(name)}={int(value)}"
    return f"{quote(name)}={quote(str(value))}"


@pytest.fixture
def world(make_client):
    client = make_client({"talk": {"features": {"message-expiration": True}}})
    client.add_user("alice", "pw", display_name="Alice", groups=["admin", "staff"])
    for uid in ("mo", "bob", "tgt"):
        client.add_user(uid, "pw", display_name=uid.title())
    return client


def check(response, label):
    assert response.status_int < 500, f"{label}: {response.status_int} {response.text[:300]}"
    if response.status_int == 304:  # nothing new in a chat: an empty answer by design
        assert response.body == b"", label
        return
    if response.content_type == "application/json":
        assert "meta" in response.json["ocs"], label
    else:
        # a few successful reads answer a file (avatars); never an error page
        assert response.status_int < 300 and response.content_type.startswith("image/"), (
            f"{label}: {response.status_int} {response.content_type}"
        )


@pytest.mark.parametrize(("kind", "method", "template", "suffix", "kwargs"), CASES)
def test_every_parameter_of_every_route(world, monkeypatch, kind, method, template, suffix, kwargs):
    target = Target(world, kind, method, template, suffix, kwargs)
    recorder = Recorder(monkeypatch)
    check(target.send_form(None, None), "normal call")
    names = [n for n in recorder.names if n != "format"]
    monkeypatch.undo()
    for name in names:
        for label, encoded in FORM_VALUES.items():
            target.ensure()
            before = dump_database()
            response = target.send_form(name, encoded)
            check(response, f"{name}={label} (form)")
            if response.status_int >= 300 and response.status_int != 304:
                assert dump_database() == before, f"{name}={label} (form) changed the database"
        for label, literal in JSON_VALUES.items():
            target.ensure()
            before = dump_database()
            response = target.send_json(name, literal)
            check(response, f"{name}={label} (json)")
            if response.status_int >= 300 and response.status_int != 304:
                assert dump_database() == before, f"{name}={label} (json) changed the database"


def test_every_ocs_route_is_fuzzed(make_app):
    app = make_app()
    talk = "/ocs/apps/spreed/api/{apiVersion}"
    served = set()
    for route in falcon.inspect.inspect_routes(app):
        if not route.path.startswith("/ocs/"):
            continue
        for method in route.methods:
            if method.internal or method.method == "OPTIONS":
                continue
            path = route.path[len(talk) :] if route.path.startswith(talk) else route.path[len("/ocs") :]
            served.add((method.method, path))
    fuzzed = {(p.values[1], p.values[2]) for p in CASES}
    assert served - fuzzed == set()
