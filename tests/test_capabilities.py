"""``/cloud/capabilities`` (ocs.md §12, capabilities.md): version block, core, spreed, ETag."""

from __future__ import annotations

import hashlib

import pytest

from capabilities.registry import FEATURE_ORDER, Registry
from ocs import formats
from ocs.config import load_config


@pytest.mark.parametrize("v", [1, 2])
def test_version_block_and_core_for_users(client, v):
    client.add_user("alice", "pw")
    data = client.data(client.ocs("GET", "/cloud/capabilities", user="alice", v=v))
    assert data["version"] == {
        "major": 31,
        "minor": 0,
        "micro": 0,
        "string": "31.0.0",
        "edition": "",
        "extendedSupport": False,
    }
    core = data["capabilities"]["core"]
    assert core["pollinterval"] == 60
    assert core["reference-api"] is False
    assert core["webdav-root"] == "remote.php/webdav"
    spreed = data["capabilities"]["spreed"]
    assert list(spreed) == ["features", "features-local", "config", "config-local", "version"]
    assert spreed["version"] == "21.1.0"
    assert spreed["config"]["conversations"]["can-create"] is True
    assert spreed["config"]["attachments"] == {
        "allowed": False,
        "folder": "/Talk",
        "conversation-subfolders": False,
    }
    assert all(isinstance(section, dict) for section in spreed["config"].values())
    assert spreed["config"]["permissions"] == {"max-default": 510, "max-custom": 511, "default": 502}
    assert spreed["config-local"]["permissions"] == []


def test_anonymous_gets_spreed_without_core(client):
    data = client.data(client.ocs("GET", "/cloud/capabilities"))
    assert set(data["capabilities"]) == {"spreed"}
    conversations = data["capabilities"]["spreed"]["config"]["conversations"]
    assert conversations["can-create"] is False
    assert "folder" not in data["capabilities"]["spreed"]["config"]["attachments"]


def test_allowed_creator_groups(make_client):
    client = make_client({"talk": {"allowed_creator_groups": ["creators"]}})
    client.add_user("alice", "pw", groups=["creators"])
    client.add_user("bob", "pw")

    def can(uid):
        data = client.data(client.ocs("GET", "/cloud/capabilities", user=uid))
        return data["capabilities"]["spreed"]["config"]["conversations"]["can-create"]

    assert can("alice") is True
    assert can("bob") is False


def test_version_from_config(make_client):
    client = make_client({"version": {"nextcloud": "32.1.4", "extended_support": True, "build": 7}})
    data = client.data(client.ocs("GET", "/cloud/capabilities"))
    assert data["version"]["major"] == 32 and data["version"]["micro"] == 4
    assert data["version"]["extendedSupport"] is True
    status = client.test.get("/status.php").json
    assert status["version"] == "32.1.4.7"
    assert status["versionstring"] == "32.1.4"


def test_etag_and_304_on_v2(client):
    r = client.ocs("GET", "/cloud/capabilities")
    digest = hashlib.md5(formats.dump_json(client.data(r)).encode()).hexdigest()  # noqa: S324
    expected = f'"{digest}"'
    assert r.headers["ETag"] == expected
    again = client.ocs("GET", "/cloud/capabilities", headers={"If-None-Match": expected})
    assert again.status_int == 304
    assert again.body == b""
    assert again.headers["ETag"] == expected
    assert "Content-Type" not in again.headers
    assert again.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    xml = client.ocs("GET", "/cloud/capabilities", fmt="xml")
    assert xml.headers["ETag"] == expected  # computed on the JSON form whatever the format


def test_etag_on_v1_is_200_with_statuscode_304(client):
    etag = client.ocs("GET", "/cloud/capabilities", v=1).headers["ETag"]
    r = client.ocs("GET", "/cloud/capabilities", v=1, headers={"If-None-Match": etag})
    assert r.status_int == 200
    assert r.json["ocs"]["meta"]["statuscode"] == 304
    assert r.json["ocs"]["meta"]["status"] == "failure"
    assert r.json["ocs"]["data"]["version"]["major"] == 31


def test_capabilities_need_api_request_header(client):
    assert client.ocs("GET", "/cloud/capabilities", api_header=False).status_int == 412


# --- the registry ---------------------------------------------------------------------------


def registry(**talk):
    config = load_config(path="/dev/null", environ={}, overrides={"talk": talk} if talk else None)
    return Registry(config)


def test_registry_advertises_only_provided_and_enabled_features_in_order():
    reg = registry(features={"favorites": False, "message-expiration": False})
    assert reg.features() == []
    reg.provide("conversation-v4", "favorites", "empty-group-room", "message-expiration", "read-only-rooms")
    assert reg.features() == ["empty-group-room", "read-only-rooms", "conversation-v4"]
    assert reg.enabled("read-only-rooms") and not reg.enabled("favorites")
    assert not reg.enabled("message-expiration")  # switched off
    with pytest.raises(ValueError):
        reg.provide("no-such-feature")


def test_features_that_require_another_are_off_with_it():
    reg = registry(features={"chat-v2": False})
    reg.provide("chat-v2", "reactions", "edit-messages", requires="chat-v2")
    assert reg.features() == []
    on = registry()
    on.provide("chat-v2", "reactions", "edit-messages", requires="chat-v2")
    assert on.features() == ["chat-v2", "reactions", "edit-messages"]
    partly = registry(features={"reactions": False})
    partly.provide("chat-v2", "reactions", "edit-messages", requires="chat-v2")
    assert partly.features() == ["chat-v2", "edit-messages"]


def test_force_mute_is_a_compat_switch():
    reg = registry(compat={"advertise_force_mute": True})
    reg.provide(*FEATURE_ORDER[:-1])
    assert reg.features()[-1] == "force-mute"
    plain = registry()
    plain.provide(*FEATURE_ORDER[:-1])
    assert "force-mute" not in plain.features()


def test_talk_hash_changes_exactly_with_talk_settings():
    a, b = registry(), registry()
    assert a.talk_hash == b.talk_hash and len(a.talk_hash) == 40
    assert registry(force_passwords=True).talk_hash != a.talk_hash
    assert registry(features={"favorites": False}).talk_hash != a.talk_hash
