"""Authentication (ocs.md §10): Basic, anonymous forms, 401 answers, login throttling,
rehash-on-login, the credential cache and the pluggable backends."""

from __future__ import annotations

import pytest
import webtest
from passlib.hash import bcrypt

from ocs.accounts.models import User
from ocs.throttle import BruteforceAttempt, subnet_of
from tests.conftest import basic


def attempts(action="login"):
    return list(BruteforceAttempt.select().where(BruteforceAttempt.action == action))


def test_good_credentials(client):
    client.add_user("alice", "secret", display_name="Alice A")
    r = client.ocs("GET", "/cloud/user", user="alice")
    assert r.status_int == 200
    assert client.data(r)["display-name"] == "Alice A"
    assert attempts() == []


def test_login_is_case_insensitive_and_returns_canonical_id(client):
    client.add_user("Alice", "secret")
    r = client.ocs("GET", "/cloud/user", user="aLiCe", password="secret")
    assert client.data(r)["id"] == "Alice"


@pytest.mark.parametrize("v", [1, 2])
def test_bad_credentials_401_with_challenge(client, v):
    client.add_user("alice", "secret")
    r = client.ocs("GET", "/cloud/capabilities", user="alice", password="wrong", v=v)
    assert r.status_int == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="Authorisation Required"'
    assert r.json["ocs"]["meta"]["statuscode"] == 997
    assert r.json["ocs"]["meta"]["message"] == "Unauthorised"
    r = client.ocs(
        "GET", "/cloud/user", user="nobody", password="x", headers={"X-Requested-With": "XMLHttpRequest"}
    )
    assert r.headers["WWW-Authenticate"] == 'DummyBasic realm="Authorisation Required"'
    assert [a.metadata for a in attempts()] == ['{"user":"alice"}', '{"user":"nobody"}']


def test_bad_credentials_on_unknown_route_are_401(client):
    r = client.ocs("GET", "/nothing", user="x", password="y")
    assert r.status_int == 401


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Basic Og==",
        "Basic " + "YWxpY2U6",
        "Basic " + "OnB3",
        "Basic !!notbase64",
        "Basic YWxpY2U=",
        "Digest abc",
    ],
)
def test_anonymous_forms(client, header):
    client.add_user("alice", "pw")
    headers = {"Authorization": header} if header else {}
    caps = client.ocs("GET", "/cloud/capabilities", headers=headers)
    assert caps.status_int == 200
    assert "core" not in client.data(caps)["capabilities"]
    assert "spreed" in client.data(caps)["capabilities"]
    r = client.ocs("GET", "/cloud/user", headers=headers)
    assert r.status_int == 401
    assert r.json["ocs"]["meta"]["message"] == "Current user is not logged in"
    assert attempts() == []


def test_bearer_is_unauthorised(client):
    r = client.ocs("GET", "/cloud/capabilities", headers={"Authorization": "Bearer abc"}, api_header=False)
    assert r.status_int == 401
    assert r.json["ocs"]["meta"]["message"] == "Unauthorised"
    assert len(attempts()) == 1


def test_login_throttle_blocks_before_hashing(client):
    client.add_user("alice", "secret")
    passwords = client.app.platform.passwords
    statuses = [
        client.ocs("GET", "/cloud/user", user="alice", password=f"wrong{i}").status_int for i in range(11)
    ]
    assert statuses == [401] * 10 + [429]
    assert len(attempts()) == 11
    before = passwords.verifications
    r = client.ocs("GET", "/cloud/user", user="alice", password="secret")
    assert r.status_int == 429
    assert r.json["ocs"]["meta"] == {
        "status": "failure",
        "statuscode": 429,
        "message": "Reached maximum delay",
    }
    assert passwords.verifications == before  # blocked without computing a hash
    assert len(attempts()) == 11


def test_successful_login_resets_own_attempts_only(client):
    client.add_user("alice", "secret")
    for _ in range(3):
        client.ocs("GET", "/cloud/user", user="alice", password="wrong")
    client.ocs("GET", "/cloud/user", user="bob", password="wrong")
    assert client.ocs("GET", "/cloud/user", user="alice", password="secret").status_int == 200
    assert [a.metadata for a in attempts()] == ['{"user":"bob"}']


def test_throttle_sleeps_outside_testing_mode(make_client):
    slept = []
    client = make_client({"throttle": {"testing": False}}, sleep=slept.append)
    client.add_user("alice", "secret")
    for _ in range(3):
        client.ocs("GET", "/cloud/user", user="alice", password="wrong")
    # 1st: no delay before, 0.2 s after; 2nd: 0.2 s before, 0.4 s after; 3rd: 0.4 s, 0.8 s
    assert slept == [0.2, 0.2, 0.4, 0.4, 0.8]


def test_one_delayed_request_per_subnet_and_per_process(make_client):
    """While one request sleeps its delay, others that earn a delay get 429 at once instead of
    occupying another thread: from the same subnet always, from others past the process limit."""
    seen = []
    armed = []

    def login(address, password="wrong"):
        return client.test.get(
            "/ocs/v2.php/cloud/user?format=json",
            headers={"OCS-APIRequest": "true", "Authorization": basic("alice", password)},
            extra_environ={"REMOTE_ADDR": address},
            status="*",
        )

    def sleep(seconds):
        if armed and not seen:  # while the first delayed request sleeps:
            before = client.app.platform.passwords.verifications
            seen.append(login("198.51.100.7").status_int)  # same address: refused
            seen.append(login("198.51.100.8").status_int)  # another address, but the slot is taken
            seen.append(client.app.platform.passwords.verifications - before)  # no hash computed
            seen.append(login("198.51.100.9", "secret").status_int)  # no delay earned: served

    client = make_client({"throttle": {"testing": False, "max_delayed_requests": 1}}, sleep=sleep)
    client.add_user("alice", "secret")
    for address in ("198.51.100.7", "198.51.100.8"):
        login(address)  # one failed attempt each: their next request is delayed 0.2 s
    armed.append(True)
    assert login("198.51.100.7").status_int == 401
    assert seen == [429, 429, 0, 200]
    # the slot is free again afterwards
    assert login("198.51.100.8").status_int == 401


def test_throttle_disabled_records_nothing(make_client):
    client = make_client({"throttle": {"enabled": False}})
    for _ in range(12):
        assert client.ocs("GET", "/cloud/user", user="x", password="y").status_int == 401
    assert attempts() == []


def test_subnet_buckets():
    assert subnet_of("2001:db8::1") == subnet_of("2001:db8::2") == "2001:db8::/64"
    assert subnet_of("2001:db8:0:1::5") == "2001:db8:0:1::/64"
    assert subnet_of("10.0.0.1") != subnet_of("10.0.0.2")
    assert subnet_of("::ffff:10.0.0.1") == "10.0.0.1/32"
    assert subnet_of("[fe80::1%eth0]", 64) == "fe80::/64"
    assert subnet_of("2001:db8:aaaa:bbbb::1", 32) == "2001:db8::/32"


def test_forwarded_for_only_from_trusted_proxy(make_app):
    app = make_app({"server": {"trusted_proxies": ["10.0.0.0/8"]}})
    from ocs.accounts import service

    service.create_user(app.platform.passwords, "alice", "secret")
    test = webtest.TestApp(app)
    headers = {
        "OCS-APIRequest": "true",
        "Authorization": basic("alice", "bad"),
        "X-Forwarded-For": "203.0.113.9",
    }
    test.get("/ocs/v2.php/cloud/user", headers=headers, extra_environ={"REMOTE_ADDR": "10.1.2.3"}, status=401)
    test.get(
        "/ocs/v2.php/cloud/user", headers=headers, extra_environ={"REMOTE_ADDR": "198.51.100.7"}, status=401
    )
    assert sorted(a.ip for a in attempts()) == ["198.51.100.7", "203.0.113.9"]


def test_rehash_on_login_when_policy_changes(make_client, database_url):
    old = make_client()
    old.add_user("alice", "secret")
    old.add_user("bob", "other")
    User.update(password_hash=bcrypt.using(rounds=4).hash("other")).where(User.uid == "bob").execute()
    before = User.get(User.uid == "alice").password_hash
    assert "m=1024" in before
    new = make_client({"passwords": {"argon2_memory_cost": 2048}})
    assert new.ocs("GET", "/cloud/user", user="alice", password="secret").status_int == 200
    after = User.get(User.uid == "alice").password_hash
    assert after != before and "m=2048" in after and after.startswith("$argon2id$")
    assert new.ocs("GET", "/cloud/user", user="bob", password="other").status_int == 200
    assert User.get(User.uid == "bob").password_hash.startswith("$argon2id$")


def test_password_change_invalidates_cached_credentials(client):
    client.add_user("alice", "secret", groups=["admin"])
    assert client.ocs("GET", "/cloud/user", user="alice").status_int == 200
    r = client.ocs("PUT", "/cloud/users/alice", user="alice", form={"key": "password", "value": "newpass"})
    assert r.status_int == 200
    assert client.ocs("GET", "/cloud/user", user="alice", password="secret").status_int == 401
    assert client.ocs("GET", "/cloud/user", user="alice", password="newpass").status_int == 200


def test_deleted_user_cached_credentials_stop_working(client):
    client.add_user("root", "pw", groups=["admin"])
    client.add_user("alice", "secret")
    assert client.ocs("GET", "/cloud/user", user="alice").status_int == 200
    assert client.ocs("DELETE", "/cloud/users/alice", user="root").status_int == 200
    assert client.ocs("GET", "/cloud/user", user="alice").status_int == 401


def test_lone_surrogate_in_credentials_is_anonymous_not_500(client):
    r = client.ocs("GET", "/cloud/user", headers={"Authorization": "Basic /w=="})
    assert r.status_int == 401


# --- pluggable backends ---------------------------------------------------------------------


def test_trusted_header_backend(make_app):
    app = make_app({"auth": {"backend": "trusted_header", "trusted_header_proxies": ["10.0.0.1/32"]}})
    test = webtest.TestApp(app)
    headers = {"OCS-APIRequest": "true", "X-Remote-User": "sso-user"}
    r = test.get(
        "/ocs/v2.php/cloud/user?format=json", headers=headers, extra_environ={"REMOTE_ADDR": "10.0.0.1"}
    )
    assert r.json["ocs"]["data"]["id"] == "sso-user"
    # from anywhere else the header means nothing
    r = test.get(
        "/ocs/v2.php/cloud/user?format=json",
        headers=headers,
        extra_environ={"REMOTE_ADDR": "10.0.0.2"},
        status=401,
    )
    assert r.json["ocs"]["meta"]["message"] == "Current user is not logged in"


def test_trusted_header_without_provisioning(make_app):
    app = make_app({"auth": {"backend": "trusted_header", "provision_users": False}})
    test = webtest.TestApp(app)
    r = test.get(
        "/ocs/v2.php/cloud/user?format=json",
        headers={"OCS-APIRequest": "true", "X-Remote-User": "ghost"},
        extra_environ={"REMOTE_ADDR": "127.0.0.1"},
        status=401,
    )
    assert r.json["ocs"]["meta"]["message"] == "Unauthorised"
    assert User.select().where(User.uid == "ghost").count() == 0


def integrator_auth(environ):
    """An integrator's authentication function used by the callable-backend test."""
    token = environ.get("HTTP_X_INTEGRATOR_TOKEN")
    return {"t-1": "carol"}.get(token)


def test_callable_backend_with_basic_fallback(make_app):
    app = make_app({"auth": {"backend": "callable", "callable": "tests.test_auth:integrator_auth"}})
    from ocs.accounts import service

    service.create_user(app.platform.passwords, "dave", "pw")
    test = webtest.TestApp(app)
    r = test.get(
        "/ocs/v2.php/cloud/user?format=json", headers={"OCS-APIRequest": "true", "X-Integrator-Token": "t-1"}
    )
    assert r.json["ocs"]["data"]["id"] == "carol"
    r = test.get(
        "/ocs/v2.php/cloud/user?format=json",
        headers={"OCS-APIRequest": "true", "Authorization": basic("dave", "pw")},
    )
    assert r.json["ocs"]["data"]["id"] == "dave"
    test.get(
        "/ocs/v2.php/cloud/user", headers={"OCS-APIRequest": "true", "X-Integrator-Token": "nope"}, status=401
    )


def test_callable_backend_bad_path_stops_startup(make_app):
    from ocs.config import ConfigError

    with pytest.raises(ConfigError, match="auth.callable"):
        make_app({"auth": {"backend": "callable", "callable": "tests.nowhere:fn"}})


def test_bypass_addresses_are_never_throttled_or_recorded(make_app):
    app = make_app({"throttle": {"bypass": ["192.0.2.0/24"]}})
    test = webtest.TestApp(app)
    headers = {"OCS-APIRequest": "true", "Authorization": basic("ghost", "bad")}
    for _ in range(12):
        test.get(
            "/ocs/v2.php/cloud/user", headers=headers, extra_environ={"REMOTE_ADDR": "192.0.2.7"}, status=401
        )
    assert attempts() == []
    test.get(
        "/ocs/v2.php/cloud/user", headers=headers, extra_environ={"REMOTE_ADDR": "198.51.100.1"}, status=401
    )
    assert len(attempts()) == 1
