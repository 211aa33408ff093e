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


ANONYMOUS = (False, False)
MEMBER_WHO_CREATES = (True, True)


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

        self._answers: dict = {}  # variant -> (payload, ETag); configuration is static
        self._everyone_creates = not config["talk"]["allowed_creator_groups"]
        self._bodies: dict = {}  # (variant, OCS version, format) -> (ETag, payload, body, type)

    def variant(self, user) -> tuple[bool, bool]:
        """(logged in, may create conversations)"""
        if user is None:
            return ANONYMOUS
        if self._everyone_creates:
            return MEMBER_WHO_CREATES  # no query
        return True, self.registry.can_create(accounts.user_groups(user))

    def payload(self, user) -> dict:
        return self.answer(self.variant(user))[0]

    def answer(self, variant: tuple[bool, bool]) -> tuple[dict, str]:
        found = self._answers.get(variant)
        if found is None:
            logged_in, can_create = variant
            if not logged_in:
                capabilities = {"spreed": self.registry.spreed(False, False)}
            else:
                capabilities = {"core": self.core, "spreed": self.registry.spreed(True, can_create)}
            data = {"version": self.version, "capabilities": capabilities}
            etag = '"' + hashlib.md5(formats.dump_json_bytes(data)).hexdigest() + '"'  # noqa: S324
            found = self._answers[variant] = (data, etag)
        return found

    @policy(auth=PUBLIC)
    def on_get(self, req, resp):
        ctx = req.context
        variant = self.variant(ctx.user)
        key = (variant, ctx.ocs_version, ctx.fmt)
        found = self._bodies.get(key)
        if found is None:
            data, etag = self.answer(variant)
            envelope.respond(req, resp, data)
            found = self._bodies[key] = (etag, data, resp.data, resp.content_type)
        etag, data, body, content_type = found
        resp.set_lower_header("etag", etag)
        if req.env.get("HTTP_IF_NONE_MATCH") == etag:
            envelope.not_modified(req, resp, data)
            return
        resp.data, resp.content_type = body, content_type
