"""Wiring of the login flows: migrations and routes (``/index.php/login/…`` and ``/login/…``)."""

from __future__ import annotations

from login import resources as r
from login.migrations import MIGRATIONS
from login.service import LoginService

__all__ = ["MIGRATIONS", "register"]


def register(app, platform) -> LoginService | None:
    """The login routes, unless ``login.enabled`` is false (then they are unknown routes)."""
    if not platform.config["login"]["enabled"]:
        return None
    service = LoginService(platform)

    def made(cls):
        return cls(platform, service)

    for path, resource in (
        ("/login/v2", made(r.FlowV2Resource)),
        ("/login/v2/poll", made(r.PollResource)),
        ("/login/v2/flow/{login_token}", made(r.LandingResource)),
        ("/login/v2/flow", made(r.FlowPageResource)),
        ("/login/v2/login", made(r.FlowLoginResource)),
        ("/login/v2/grant", made(r.FlowGrantResource)),
        ("/login/flow", made(r.FlowV1Resource)),
        ("/login/flow/login", made(r.FlowV1LoginResource)),
        ("/login/flow/grant", made(r.FlowV1GrantResource)),
        ("/login/static/login.css", r.StylesheetResource()),
    ):
        app.add_route(path, resource)
    platform.login = service
    return service
