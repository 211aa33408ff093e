"""App passwords (login §7–§10): creation from account credentials, Basic authentication with
them, revocation, rotation, password confirmation, the capability, ``server.secret``, and occ."""

from __future__ import annotations

import os
import re
import stat

import pytest
from playhouse.test_utils import count_queries

from ocs.accounts.apppasswords import AppPassword
from ocs.config import ConfigError
from ocs.throttle import BruteforceAttempt

UA = "Mozilla/5.0 (Android) Nextcloud-Talk v20.1.0"


@pytest.fixture
def alice(client):
    client.add_user("alice", "secret-1", display_name="Alice")
    client.add_user("bob", "secret-2")
    return client


def new_app_password(client, user="alice", password=None):
    r = client.ocs("GET", "/core/getapppassword", user=user, password=password, headers={"User-Agent": UA})
    assert r.status_int == 200, r.text
    return client.data(r)["apppassword"]


def me(client, login, password, status="*"):
    return client.ocs("GET", "/cloud/user", user=login, password=password, status=status)


def test_create_and_use_an_app_password(alice):
    token = new_app_password(alice)
    assert re.fullmatch(r"[A-Za-z0-9]{72}", token)
    row = AppPassword.get()
    assert row.name == UA and row.login_name == "alice" and token not in (row.secret_hash, row.name)
    for login in ("alice", "ALICE"):
        r = me(alice, login, token)
        assert r.status_int == 200 and alice.data(r)["id"] == "alice"
    assert me(alice, "bob", token).status_int == 401  # another user's name
    assert me(alice, "alice", token[:-1] + ("A" if token[-1] != "A" else "B")).status_int == 401
    r = alice.ocs("GET", "/core/getapppassword", user="alice", password=token)
    assert r.status_int == 403 and r.json["ocs"]["meta"]["message"] == "Password confirmation is required"
    r = alice.ocs("GET", "/core/getapppassword", user="alice", v=1, headers={"User-Agent": UA})
    assert r.json["ocs"]["meta"]["statuscode"] == 100 and len(alice.data(r)["apppassword"]) == 72
    assert AppPassword.select().count() == 2  # every call creates one


def test_an_app_password_request_reads_its_credential_and_user_in_one_statement_after_the_throttle(alice):
    """Never cached (L7): the throttle's pre-check, then one indexed read of the app password
    joined with its user."""
    token = new_app_password(alice)
    me(alice, "alice", token)  # the first use records its activity (a write, once a minute)
    with count_queries() as counter:
        r = alice.ocs("GET", "/cloud/capabilities", user="alice", password=token)
    assert r.status_int == 200 and counter.count == 2
    r = me(alice, "alice", token)
    assert alice.data(r)["displayname"] == "Alice"


def test_revoke_and_rotate(alice):
    token = new_app_password(alice)
    r = alice.ocs("POST", "/core/apppassword/rotate", user="alice", password=token)
    rotated = alice.data(r)["apppassword"]
    assert r.status_int == 200 and rotated != token and AppPassword.select().count() == 1
    assert me(alice, "alice", token).status_int == 401  # the old secret at once (L8)
    assert me(alice, "alice", rotated).status_int == 200
    r = alice.ocs("DELETE", "/core/apppassword", user="alice")
    assert r.status_int == 403 and r.json["ocs"]["meta"]["message"] == "no app password in use"
    r = alice.ocs("POST", "/core/apppassword/rotate", user="alice")
    assert r.status_int == 403
    r = alice.ocs("DELETE", "/core/apppassword", user="alice", password=rotated)
    assert r.status_int == 200 and alice.data(r) == []
    assert me(alice, "alice", rotated).status_int == 401
    assert AppPassword.select().count() == 0


def test_account_password_change_keeps_app_passwords_and_deletion_removes_them(alice):
    alice.add_user("root", "rootpw", groups=["admin"])
    token = new_app_password(alice)
    alice.ocs("PUT", "/cloud/users/alice", user="root", form={"key": "password", "value": "changed-1"})
    assert me(alice, "alice", token).status_int == 200  # as upstream
    assert alice.ocs("DELETE", "/cloud/users/alice", user="root").status_int == 200
    assert AppPassword.select().count() == 0
    alice.add_user("alice", "again-1")
    assert me(alice, "alice", token).status_int == 401  # a recreated user inherits nothing


def test_confirm_checks_the_account_password_and_is_throttled(alice):
    token = new_app_password(alice)
    r = alice.ocs(
        "PUT", "/core/apppassword/confirm", user="alice", password=token, form={"password": "wrong"}
    )
    assert r.status_int == 403 and alice.data(r) == []
    assert [a.action for a in BruteforceAttempt.select()] == ["sudo"]
    r = alice.ocs(
        "PUT", "/core/apppassword/confirm", user="alice", password=token, form={"password": "secret-1"}
    )
    assert r.status_int == 200 and isinstance(alice.data(r)["lastLogin"], int)
    assert BruteforceAttempt.select().count() == 0


def test_wrong_app_passwords_count_as_failed_logins(alice):
    for i in range(3):
        assert me(alice, "alice", "x" * 72 + str(i)).status_int == 401
    assert BruteforceAttempt.select().where(BruteforceAttempt.action == "login").count() == 3
    token = new_app_password(alice)
    assert me(alice, "alice", token).status_int == 200
    assert BruteforceAttempt.select().where(BruteforceAttempt.action == "login").count() == 0


def test_capability_and_switch(make_client):
    client = make_client()
    client.add_user("alice", "secret-1")
    caps = client.data(client.ocs("GET", "/cloud/capabilities", user="alice"))["capabilities"]
    assert caps["core"]["can-create-app-token"] is True
    assert "core" not in client.data(client.ocs("GET", "/cloud/capabilities"))["capabilities"]
    off = make_client({"login": {"allow_app_password_creation": False}})
    caps = off.data(off.ocs("GET", "/cloud/capabilities", user="alice", password="secret-1"))["capabilities"]
    assert caps["core"]["can-create-app-token"] is False
    r = off.ocs("GET", "/core/getapppassword", user="alice", password="secret-1")
    assert r.status_int == 403 and r.json["ocs"]["meta"]["message"] == "App password creation is disabled"


def test_server_secret_is_generated_kept_and_checked(make_app, tmp_path, database_url):
    if not database_url.startswith("sqlite"):
        path = os.path.join("data", "server.secret")
    else:
        path = str(tmp_path / "server.secret")
    make_app()
    assert os.path.exists(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = open(path).read()
    make_app()
    assert open(path).read() == first  # kept, not regenerated
    with pytest.raises(ConfigError, match="another secret"):
        make_app({"server": {"secret": "s" * 40}})


def test_configured_secret_wins(make_app, tmp_path, database_url):
    app = make_app({"server": {"secret": "k" * 40}})
    assert app.platform.app_passwords.digest("x") != make_digest_with_other_key()
    if database_url.startswith("sqlite"):
        assert not (tmp_path / "server.secret").exists()


def make_digest_with_other_key():
    from ocs.accounts.apppasswords import AppPasswords

    return AppPasswords(b"other" * 8).digest("x")


def test_occ_auth_tokens(occ, client):  # noqa: F811
    client.add_user("alice", "secret-1")
    out = occ(
        "user:auth-tokens:add", "--name", "my laptop", "--password-from-env", "alice", password="secret-1"
    )
    lines = out.stdout.splitlines()
    assert lines[0] == "app password:" and re.fullmatch(r"[A-Za-z0-9]{72}", lines[1])
    assert me(client, "alice", lines[1]).status_int == 200
    occ("user:auth-tokens:add", "--password-from-env", "alice", password="wrong", expect=1)
    listed = occ("user:auth-tokens:list", "--output=json", "alice").stdout
    import json

    rows = json.loads(listed)
    assert [r["name"] for r in rows] == ["my laptop"] and lines[1] not in listed
    occ("user:auth-tokens:delete", "alice", str(rows[0]["id"]))
    assert me(client, "alice", lines[1]).status_int == 401
    occ("user:auth-tokens:delete", "alice", "999", expect=1)


def test_login_can_be_switched_off(make_client):
    client = make_client()
    client.add_user("alice", "secret-1")
    token = new_app_password(client)
    off = make_client({"login": {"enabled": False}})
    assert me(off, "alice", token).status_int == 401  # account passwords only
    assert me(off, "alice", "secret-1").status_int == 200
    r = off.ocs("GET", "/core/getapppassword", user="alice", password="secret-1")
    assert r.status_int == 404 and r.json["ocs"]["meta"]["statuscode"] == 998
    assert off.test.post("/index.php/login/v2", status=404).json == {"message": "Not found"}
    caps = off.data(off.ocs("GET", "/cloud/capabilities", user="alice", password="secret-1"))["capabilities"]
    assert caps["core"]["can-create-app-token"] is False
