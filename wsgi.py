"""WSGI entry point: ``gunicorn 'wsgi:create_app()'``.

``create_app`` is the one place that wires the platform and the feature packages. Importing this
module has no side effects; the factory migrates the schema and leaves no connection open, so it
is safe with ``--preload``.
"""

from __future__ import annotations

import logging
import sys
import time

import falcon

from capabilities import resources as capability_resources
from capabilities.registry import Registry
from chat import routes as chat_routes
from conversations import routes as conversation_routes
from login import routes as login_routes
from ocs import app as platform_app
from ocs import auth, migrations, status
from ocs import db as dbm
from ocs import secret as server_secret
from ocs.accounts import resources as account_resources
from ocs.accounts import service as accounts
from ocs.accounts.apppasswords import AppPasswords
from ocs.accounts.passwords import Passwords
from ocs.config import Config, load_config
from ocs.mail import Mailer
from ocs.throttle import Throttler
from participants import routes as participant_routes

# Feature packages, each with ``MIGRATIONS`` and ``register(app, platform)``; wired in order.
FEATURES: list = [conversation_routes, participant_routes, chat_routes, login_routes]


class TalkApp(falcon.App):
    """The Falcon app, carrying ``platform`` (the wired services) for tests and integrators."""

    platform: platform_app.Platform


def setup_logging(config: Config) -> None:
    """Log to stderr unless the host application configured logging already."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
        )
        root.addHandler(handler)
    logging.getLogger("ocs").setLevel(config["server"]["log_level"])
    for name in ("conversations", "participants", "capabilities", "chat", "login"):
        logging.getLogger(name).setLevel(config["server"]["log_level"])


def resolve_config(config) -> Config:
    if config is None:
        return load_config()
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return load_config(overrides=config)
    raise TypeError("config must be None, a Config or a dict of overrides")


def init_database(config: Config) -> None:
    """Bind the models to the configured database and bring its schema up to date."""
    dbm.db.initialize(dbm.make_database(config))
    try:
        components = {"platform": migrations.MIGRATIONS}
        for feature in FEATURES:
            components[feature.__name__.split(".")[0]] = feature.MIGRATIONS
        dbm.migrate(components)
        accounts.ensure_admin_group()
    finally:
        dbm.discard_connections()


def create_app(config=None, *, clock=time.time, sleep=time.sleep) -> TalkApp:
    """Build the WSGI application. ``config``: None (config.yaml + env), a Config, or overrides."""
    config = resolve_config(config)
    setup_logging(config)
    init_database(config)
    app_passwords = AppPasswords(server_secret.resolve(config), clock=clock)
    passwords = Passwords(config)
    throttler = Throttler(config, clock=clock, sleep=sleep)
    registry = Registry(config)
    enabled = config["login"]["enabled"]
    authenticator = auth.make_authenticator(config, passwords, throttler, app_passwords if enabled else None)
    platform = platform_app.Platform(config, passwords, throttler, authenticator, registry, clock=clock)
    platform.app_passwords = app_passwords
    platform.mailer = Mailer(config)

    app = TalkApp(
        middleware=[platform_app.PlatformMiddleware(platform)],
        request_type=platform_app.Request,
        response_type=platform_app.Response,
    )
    app.req_options.auto_parse_form_urlencoded = False
    app.req_options.strip_url_path_trailing_slash = False
    platform_app.install_error_handlers(app, platform)

    app.add_route("/status.php", status.StatusResource(config))
    app.add_route("/health/live", status.LiveResource())
    app.add_route("/health/ready", status.ReadyResource(config))
    app.add_route("/ocs/cloud/capabilities", capability_resources.CapabilitiesResource(config, registry))
    account_resources.add_routes(app, platform)
    for feature in FEATURES:
        feature.register(app, platform)
    app.platform = platform  # for tests and integrators: the wired services
    return app
