"""The occ command, run as a subprocess against the test database (Nextcloud's syntax)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ocs.accounts import service as accounts
from ocs.accounts.models import User

ROOT = Path(__file__).resolve().parent.parent


def test_user_add_with_nextcloud_syntax_then_login(occ, make_client):
    out = occ(
        "user:add",
        "--password-from-env",
        "--display-name=Alice A",
        "--group=admin",
        "alice",
        password="secret",
    )
    assert 'The account "alice" was created successfully' in out.stdout
    client = make_client()
    r = client.ocs("GET", "/cloud/user", user="alice", password="secret")
    assert client.data(r)["display-name"] == "Alice A"
    assert client.data(r)["groups"] == ["admin"]
    # an admin can use the provisioning API right away
    assert client.ocs("GET", "/cloud/users", user="alice", password="secret").status_int == 200


def test_user_add_errors(occ):
    occ("user:add", "--password-from-env", "alice", password="secret")
    assert "already exists" in occ("user:add", "--password-from-env", "alice", password="x", expect=1).stderr
    assert "OC_PASS is empty" in occ("user:add", "--password-from-env", "bob", expect=1).stderr
    assert "Interactive input" in occ("user:add", "carol", expect=1).stderr
    assert (
        "Only the following characters"
        in occ("user:add", "--password-from-env", "bad/name", password="x", expect=1).stderr
    )


def test_user_list_delete_resetpassword(occ, make_client):
    occ("user:add", "--password-from-env", "--display-name=Alice A", "alice", password="secret")
    occ("user:add", "--password-from-env", "bob", password="secret")
    assert occ("user:list").stdout.splitlines() == ["  - alice: Alice A", "  - bob: bob"]
    assert json.loads(occ("user:list", "--output=json").stdout) == {"alice": "Alice A", "bob": "bob"}
    occ("user:resetpassword", "--password-from-env", "alice", password="changed")
    client = make_client()
    assert client.ocs("GET", "/cloud/user", user="alice", password="secret").status_int == 401
    assert client.ocs("GET", "/cloud/user", user="alice", password="changed").status_int == 200
    assert "deleted" in occ("user:delete", "bob").stdout
    assert "does not exist" in occ("user:delete", "bob", expect=1).stderr
    assert [u.uid for u in User.select()] == ["alice"]


def test_groups(occ):
    occ("user:add", "--password-from-env", "alice", password="secret")
    occ("user:add", "--password-from-env", "bob", password="secret")
    occ("group:add", "staff")
    occ("group:adduser", "staff", "alice", "bob")
    assert json.loads(occ("group:list", "--output=json").stdout) == {"admin": [], "staff": ["alice", "bob"]}
    occ("group:removeuser", "staff", "bob")
    assert occ("group:list").stdout.splitlines() == ["  - admin:", "  - staff:", "    - alice"]
    assert "does not exist" in occ("group:delete", "nope", expect=1).stderr
    assert "could not be deleted" in occ("group:delete", "admin", expect=1).stderr
    occ("group:delete", "staff")
    assert accounts.list_groups() == ["admin"]
    assert "user not found" in occ("group:adduser", "admin", "ghost", expect=1).stderr


def test_config_list_shows_effective_config(occ, database_url):
    data = json.loads(occ("config:list").stdout)
    assert data["throttle"]["max_attempts"] == 10
    assert data["passwords"]["argon2_memory_cost"] == 1024  # from the environment
    assert data["server"]["log_level"] == "INFO"
    assert data["database"]["url"] == database_url  # no password in it; masking: test_config


def test_invalid_config_is_reported(occ, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("throttle:\n  max_attempts: lots\n")
    proc = subprocess.run(
        [sys.executable, "-m", "ocs.accounts.occ", "user:list"],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("TALK_")}, "TALK_CONFIG": str(bad)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "throttle.max_attempts" in proc.stderr
