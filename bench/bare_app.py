"""Reference L1 (``performance.md`` §8.4): a bare Falcon app answering fixed OCS JSON bytes.

``BENCH_BODY_FILE`` names a file with the exact bytes to return (the benchmark writes the
ocs-talk answer for the 10-conversation user there, so both serve bodies of the same size).
"""

from __future__ import annotations

import os

import falcon


class Fixed:
    def __init__(self, body: bytes):
        self.body = body

    def on_get(self, req, resp):
        resp.content_type = "application/json; charset=utf-8"
        resp.data = self.body


def create_app() -> falcon.App:
    with open(os.environ["BENCH_BODY_FILE"], "rb") as fh:
        body = fh.read()
    app = falcon.App()
    app.add_sink(Fixed(body).on_get, "/")
    return app
