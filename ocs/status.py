"""Plain-JSON endpoints outside the OCS envelope: ``/status.php`` and the health probes."""

from __future__ import annotations

from ocs import db as dbm
from ocs import envelope, formats


class StatusResource:
    """``GET /status.php``: what Nextcloud clients check before logging in (``ocs.md`` §11)."""

    def __init__(self, config):
        version = config["version"]
        body = {
            "installed": True,
            "maintenance": config["server"]["maintenance"],
            "needsDbUpgrade": False,
            "version": f"{version['nextcloud']}.{version['build']}",
            "versionstring": version["nextcloud"],
            "edition": "",
            "productname": version["product_name"],
            "extendedSupport": version["extended_support"],
            "needsUpgrade": False,
            "upgrade": False,
        }
        # configuration is static: the answer is encoded once
        self.body = formats.dump_json_bytes(body)

    def on_get(self, req, resp):
        resp.set_lower_header("access-control-allow-origin", "*")
        resp.content_type = formats.CONTENT_TYPES[formats.JSON]
        resp.data = self.body


class LiveResource:
    """``GET /health/live``: the worker answers; touches no database."""

    def on_get(self, req, resp):
        envelope.render_plain(resp, 200, {"status": "ok"}, {"Cache-Control": "no-store"})


class ReadyResource:
    """``GET /health/ready``: ``SELECT 1`` within 2 s, and not in maintenance."""

    def __init__(self, config):
        self.config = config

    def on_get(self, req, resp):
        headers = {"Cache-Control": "no-store"}
        if self.config["server"]["maintenance"]:
            envelope.render_plain(
                resp, 503, {"status": "unavailable", "database": "ok"}, {**headers, "Retry-After": "5"}
            )
            return
        if dbm.ping(2.0):
            envelope.render_plain(resp, 200, {"status": "ok", "database": "ok"}, headers)
        else:
            envelope.render_plain(
                resp, 503, {"status": "unavailable", "database": "error"}, {**headers, "Retry-After": "5"}
            )
