"""The provisioning subset (ocs.md §13): admins manage users and groups; others get 403/998."""

from __future__ import annotations

import pytest

from ocs.accounts.models import GroupMember, User

SUB_ADMIN = "Logged in account must be at least a sub admin"


@pytest.fixture
def admin_client(client):
    client.add_user("root", "rootpw", display_name="Root", groups=["admin"])
    client.add_user("alice", "alicepw", display_name="Alice")
    return client


def meta(r):
    return r.json["ocs"]["meta"]


def test_create_list_get_delete_user(admin_client):
    c = admin_client
    r = c.ocs(
        "POST",
        "/cloud/users",
        user="root",
        json_body={
            "userid": "bob",
            "password": "pw",
            "displayName": "Bob B",
            "email": "bob@example.org",
            "groups": ["admin"],
        },
    )
    assert c.data(r) == {"id": "bob"}
    assert c.data(c.ocs("GET", "/cloud/users", user="root")) == {"users": ["alice", "bob", "root"]}
    assert c.data(c.ocs("GET", "/cloud/users", user="root", params={"search": "B B"})) == {"users": ["bob"]}
    assert c.data(c.ocs("GET", "/cloud/users", user="root", params={"limit": 1, "offset": 1})) == {
        "users": ["bob"]
    }
    details = c.data(c.ocs("GET", "/cloud/users/bob", user="root"))
    assert details["displayname"] == details["display-name"] == "Bob B"
    assert details["email"] == details["notify_email"] == "bob@example.org"
    assert details["groups"] == ["admin"]
    assert c.ocs("GET", "/cloud/user", user="bob", password="pw").status_int == 200
    assert c.data(c.ocs("DELETE", "/cloud/users/bob", user="root")) == []
    assert User.select().where(User.uid == "bob").count() == 0
    assert GroupMember.select().where(GroupMember.user == "bob").count() == 0


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        ({"userid": "ALICE", "password": "pw"}, 102, "User already exists"),
        ({"userid": "bad/id", "password": "pw"}, 101, None),
        ({"userid": "...", "password": "pw"}, 101, None),
        ({"userid": " lead", "password": "pw"}, 101, None),
        ({"userid": "x" * 65, "password": "pw"}, 101, None),
        ({"userid": "nopass"}, 108, "An email address is required, to send a password link to the user."),
        ({"userid": "long", "password": "p" * 470}, 101, "Invalid password value"),
        ({"userid": "grp", "password": "pw", "groups": ["missing"]}, 104, "Group missing does not exist"),
        ({"userid": "mail", "password": "pw", "email": "not an email"}, 101, None),
    ],
)
@pytest.mark.parametrize("v", [1, 2])
def test_create_user_errors(admin_client, payload, code, message, v):
    before = User.select().count()
    r = admin_client.ocs("POST", "/cloud/users", user="root", json_body=payload, v=v)
    assert r.status_int == (200 if v == 1 else 400)
    assert meta(r)["statuscode"] == code
    if message:
        assert meta(r)["message"] == message
    assert r.json["ocs"]["data"] == []
    assert User.select().count() == before


def test_user_with_email_only_and_no_password(admin_client):
    r = admin_client.ocs(
        "POST", "/cloud/users", user="root", form={"userid": "mailonly", "email": "m@example.org"}
    )
    assert meta(r)["statuscode"] == 200


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "message"),
    [
        ("GET", "/cloud/users", {}, SUB_ADMIN),
        ("POST", "/cloud/users", {"form": {"userid": "x", "password": "y"}}, SUB_ADMIN),
        ("DELETE", "/cloud/users/root", {}, SUB_ADMIN),
        ("POST", "/cloud/users/alice/groups", {"form": {"groupid": "admin"}}, SUB_ADMIN),
        ("DELETE", "/cloud/users/root/groups", {"form": {"groupid": "admin"}}, SUB_ADMIN),
        ("GET", "/cloud/groups", {}, SUB_ADMIN),
        (
            "POST",
            "/cloud/groups",
            {"form": {"groupid": "g"}},
            "Logged in account must be an admin, a sub admin or gotten special right to access this setting",
        ),
        ("GET", "/cloud/groups/admin", {}, SUB_ADMIN),
        ("PUT", "/cloud/groups/admin", {"form": {"key": "displayname", "value": "x"}}, SUB_ADMIN),
        ("DELETE", "/cloud/groups/admin", {}, SUB_ADMIN),
    ],
)
def test_non_admins_get_403_and_nothing_changes(admin_client, method, path, kwargs, message):
    before = (User.select().count(), GroupMember.select().count())
    r = admin_client.ocs(method, path, user="alice", **kwargs)
    assert r.status_int == 403
    assert meta(r)["message"] == message
    assert (User.select().count(), GroupMember.select().count()) == before
    assert admin_client.ocs(method, path, **kwargs).status_int == 401  # anonymous


def test_self_or_admin_visibility(admin_client):
    c = admin_client
    assert c.data(c.ocs("GET", "/cloud/users/alice", user="alice"))["id"] == "alice"
    r = c.ocs("GET", "/cloud/users/root", user="alice")
    assert r.status_int == 404 and meta(r)["statuscode"] == 998
    r = c.ocs("GET", "/cloud/users/ghost", user="alice")
    assert meta(r) == {"status": "failure", "statuscode": 404, "message": "User does not exist"}
    assert meta(c.ocs("GET", "/cloud/users/root/groups", user="alice"))["statuscode"] == 998
    assert c.data(c.ocs("GET", "/cloud/users/alice/groups", user="alice")) == {"groups": []}


def test_edit_user_fields(admin_client):
    c = admin_client
    assert (
        meta(c.ocs("PUT", "/cloud/users/alice", user="alice", params={"key": "displayname", "value": "Al"}))[
            "statuscode"
        ]
        == 200
    )
    assert (
        meta(c.ocs("PUT", "/cloud/users/alice", user="alice", form={"key": "email", "value": "a@b.c"}))[
            "statuscode"
        ]
        == 200
    )
    d = c.data(c.ocs("GET", "/cloud/users/alice", user="alice"))
    assert (d["displayname"], d["email"]) == ("Al", "a@b.c")
    assert (
        meta(c.ocs("PUT", "/cloud/users/alice", user="alice", form={"key": "quota", "value": "1"}))[
            "statuscode"
        ]
        == 113
    )
    assert (
        meta(
            c.ocs("PUT", "/cloud/users/alice", user="alice", form={"key": "displayname", "value": "x" * 65})
        )["statuscode"]
        == 101
    )
    assert (
        meta(c.ocs("PUT", "/cloud/users/root", user="alice", form={"key": "displayname", "value": "pwned"}))[
            "statuscode"
        ]
        == 998
    )
    assert c.data(c.ocs("GET", "/cloud/users/root", user="root"))["displayname"] == "Root"
    assert (
        meta(c.ocs("PUT", "/cloud/users/alice", user="root", form={"key": "displayname", "value": ""}))[
            "statuscode"
        ]
        == 200
    )
    assert c.data(c.ocs("GET", "/cloud/users/alice", user="root"))["displayname"] == "alice"


def test_delete_errors(admin_client):
    c = admin_client
    assert meta(c.ocs("DELETE", "/cloud/users/ghost", user="root"))["statuscode"] == 998
    assert meta(c.ocs("DELETE", "/cloud/users/root", user="root"))["statuscode"] == 101
    assert User.select().where(User.uid == "root").count() == 1


def test_groups_lifecycle(admin_client):
    c = admin_client
    assert (
        meta(c.ocs("POST", "/cloud/groups", user="root", form={"groupid": "staff", "displayname": "Staff"}))[
            "statuscode"
        ]
        == 200
    )
    assert meta(c.ocs("POST", "/cloud/groups", user="root", form={"groupid": "staff"}))["statuscode"] == 102
    assert meta(c.ocs("POST", "/cloud/groups", user="root", form={"groupid": ""}))["statuscode"] == 101
    assert meta(c.ocs("POST", "/cloud/groups", user="root", form={"groupid": " x"}))["statuscode"] == 101
    assert c.data(c.ocs("GET", "/cloud/groups", user="root")) == {"groups": ["admin", "staff"]}
    assert (
        meta(c.ocs("POST", "/cloud/users/alice/groups", user="root", form={"groupid": "staff"}))["statuscode"]
        == 200
    )
    assert c.data(c.ocs("GET", "/cloud/groups/staff", user="root")) == {"users": ["alice"]}
    assert c.data(c.ocs("GET", "/cloud/users/alice/groups", user="alice")) == {"groups": ["staff"]}
    assert (
        meta(c.ocs("POST", "/cloud/users/alice/groups", user="root", form={"groupid": ""}))["statuscode"]
        == 101
    )
    assert (
        meta(c.ocs("POST", "/cloud/users/alice/groups", user="root", form={"groupid": "nope"}))["statuscode"]
        == 102
    )
    assert (
        meta(c.ocs("POST", "/cloud/users/ghost/groups", user="root", form={"groupid": "staff"}))["statuscode"]
        == 103
    )
    assert (
        meta(c.ocs("PUT", "/cloud/groups/staff", user="root", form={"key": "displayname", "value": "Crew"}))[
            "statuscode"
        ]
        == 200
    )
    assert (
        meta(c.ocs("PUT", "/cloud/groups/staff", user="root", form={"key": "colour", "value": "x"}))[
            "statuscode"
        ]
        == 997
    )
    assert (
        meta(c.ocs("DELETE", "/cloud/users/alice/groups", user="root", form={"groupid": "staff"}))[
            "statuscode"
        ]
        == 200
    )
    assert c.data(c.ocs("GET", "/cloud/groups/staff", user="root")) == {"users": []}
    assert (
        meta(c.ocs("DELETE", "/cloud/users/root/groups", user="root", params={"groupid": "admin"}))[
            "statuscode"
        ]
        == 105
    )
    assert meta(c.ocs("DELETE", "/cloud/groups/admin", user="root"))["statuscode"] == 102
    assert meta(c.ocs("DELETE", "/cloud/groups/nope", user="root"))["statuscode"] == 101
    assert meta(c.ocs("GET", "/cloud/groups/nope", user="root")) == {
        "status": "failure",
        "statuscode": 404,
        "message": "The requested group could not be found",
    }
    assert meta(c.ocs("DELETE", "/cloud/groups/staff", user="root"))["statuscode"] == 200
    assert c.data(c.ocs("GET", "/cloud/groups", user="root")) == {"groups": ["admin"]}


def test_provisioning_can_be_switched_off(make_client):
    client = make_client({"provisioning": {"enabled": False}})
    client.add_user("root", "pw", groups=["admin"])
    r = client.ocs("GET", "/cloud/users", user="root")
    assert meta(r)["statuscode"] == 998
    assert client.ocs("GET", "/cloud/user", user="root").status_int == 200
