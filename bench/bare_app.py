"""The reference: a bare Falcon app answering fixed bytes, one body per path.

``BENCH_BODIES`` names a JSON manifest ``{"/path?query": ["content type", "file"]}``; the
benchmark fills it with ocs-talk's own answers, so both apps serve the same bytes.
"""

from __future__ import annotations

import json
import os

import falcon


class Fixed:
    def __init__(self, bodies: dict):
        self.bodies = bodies

    def on_get(self, req, resp):
        key = req.relative_uri
        if key not in self.bodies:
            raise falcon.HTTPNotFound()
        resp.content_type, resp.data = self.bodies[key]


def create_app() -> falcon.App:
    with open(os.environ["BENCH_BODIES"], encoding="utf-8") as fh:
        manifest = json.load(fh)
    bodies = {}
    for path, (content_type, name) in manifest.items():
        with open(name, "rb") as fh:
            bodies[path] = (content_type, fh.read())
    app = falcon.App()
    app.add_sink(Fixed(bodies).on_get, "/")
    return app
