"""``GET /ocs/v{1,2}.php/cloud/capabilities`` with ETag and 304 (``ocs.md`` §12)."""

from __future__ import annotations

import hashlib

from ocs import envelope, formats
from ocs.accounts import service as accounts
from ocs.app import PUBLIC, policy

CORE = {
    "pollinterval": 60,
    "webdav-root": "remote.php/webdav",
    "reference-api": False,
    "reference-regex": (
        r"(\s|\n|^)(https?:\/\/)([-A-Z0-9+_.]+(?::[0-9]+)?(?:\/[-A-Z0-9+&@#%?=~_|!:,.;()]*)*)(\s|\n|$)"
    ),
    "mod-rewrite-working": False,
}


class CapabilitiesResource:
    def __init__(self, config, registry):
        self.registry = registry
        # login §7.5: only for authenticated requests
        login = config["login"]
        self.core = {
            **CORE,
            "can-create-app-token": login["enabled"] and login["allow_app_password_creation"],
        }
        major, minor, micro = (int(p) for p in config["version"]["nextcloud"].split("."))
        self.version = {
            "major": major,
            "minor": minor,
            "micro": micro,
            "string": config["version"]["nextcloud"],
            "edition": "",
            "extendedSupport": config["version"]["extended_support"],
        }

    def payload(self, user) -> dict:
        if user is None:
            capabilities = {"spreed": self.registry.spreed(False, False)}
        else:
            can_create = self.registry.can_create(accounts.user_groups(user))
            capabilities = {"core": self.core, "spreed": self.registry.spreed(True, can_create)}
        return {"version": self.version, "capabilities": capabilities}

    @policy(auth=PUBLIC)
    def on_get(self, req, resp):
        data = self.payload(req.context.user)
        etag = '"' + hashlib.md5(formats.dump_json(data).encode("ascii")).hexdigest() + '"'  # noqa: S324
        resp.set_header("ETag", etag)
        if req.get_header("If-None-Match") == etag:
            envelope.not_modified(req, resp, data)
            return
        envelope.respond(req, resp, data)
