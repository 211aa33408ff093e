"""The reference: a bare Falcon app answering fixed bytes, one answer per path.

``BENCH_BODIES`` names a JSON manifest ``{"/path?query": ["content type", "file", headers]}``;
the benchmark fills it with ocs-talk's own answers. Under ``/body/…`` the app answers with the
body and its content type only; under ``/full/…`` also with every other header ocs-talk sent
(security headers, ETag, a request id of the same length), so that the same status line,
headers and body go on the wire: gunicorn validates every response header (two regular
expressions each), which costs about a microsecond per header.
"""

from __future__ import annotations

import json
import os

import falcon


class Fixed:
    def __init__(self, bodies: dict, with_headers: bool):
        self.bodies = bodies
        self.with_headers = with_headers

    def on_get(self, req, resp):
        key = req.relative_uri.split("/", 2)[2]
        found = self.bodies.get("/" + key)
        if found is None:
            raise falcon.HTTPNotFound()
        resp.content_type, resp.data, headers = found
        if self.with_headers:
            resp.set_headers(headers)


def ready(req, resp):
    resp.content_type, resp.data = "application/json", b"{}"


def create_app() -> falcon.App:
    with open(os.environ["BENCH_BODIES"], encoding="utf-8") as fh:
        manifest = json.load(fh)
    bodies = {}
    for path, (content_type, name, headers) in manifest.items():
        with open(name, "rb") as fh:
            bodies[path] = (content_type, fh.read(), [tuple(h) for h in headers])
    app = falcon.App()
    app.add_sink(ready, "/status.php")  # what bench/common.py polls until the server is up
    app.add_sink(Fixed(bodies, with_headers=False).on_get, "/body/")
    app.add_sink(Fixed(bodies, with_headers=True).on_get, "/full/")
    return app
