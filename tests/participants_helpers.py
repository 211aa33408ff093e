"""Helpers for participant tests: guests are separate webtest apps (their own cookie jars)."""

from __future__ import annotations

import webtest

from conversations.models import Attendee, Room
from tests.talk import api


class Guest:
    """A client with its own cookie jar: anonymous, or a user when ``user`` is given."""

    def __init__(self, app, remote_addr: str = "203.0.113.5", user: str | None = None, password: str = "pw"):
        self.test = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": remote_addr})
        self.headers = {"OCS-APIRequest": "true"}
        if user is not None:
            from tests.conftest import basic

            self.headers["Authorization"] = basic(user, password)

    def call(self, method, path, version="v4", form=None, status="*", body=None, content_type=None):
        from urllib.parse import urlencode

        kwargs = {"method": method, "headers": dict(self.headers), "status": status, "expect_errors": True}
        if form is not None:
            kwargs["body"] = urlencode(form).encode()
            kwargs["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            kwargs["body"] = body
            kwargs["headers"]["Content-Type"] = content_type
        return self.test.request(f"/ocs/v2.php{api(version)}{path}?format=json", **kwargs)

    def join(self, token, password=None, version="v4"):
        return self.call(
            "POST",
            f"/room/{token}/participants/active",
            version,
            {"password": password} if password else None,
        )

    def leave(self, token):
        return self.call("DELETE", f"/room/{token}/participants/active")

    def cookie(self):
        return self.test.cookies.get("ocs_talk_session")


def attendees(token):
    room = Room.get(Room.token == token)
    return [
        (a.actor_type, a.actor_id, a.participant_type)
        for a in Attendee.select().where(Attendee.room == room.id).order_by(Attendee.id)
    ]
