"""Configuration: documented defaults, file, environment overrides, errors naming the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ocs.config import ConfigError, defaults, load_config

ROOT = Path(__file__).resolve().parent.parent


def test_config_yaml_documents_every_key_with_its_default():
    documented = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert documented == defaults()


def test_environment_overrides_are_typed():
    config = load_config(
        path=os.devnull,
        environ={
            "TALK_THROTTLE__ENABLED": "false",
            "TALK_THROTTLE__MAX_ATTEMPTS": "5",
            "TALK_SERVER__TRUSTED_PROXIES": "[10.0.0.0/8, '::1']",
            "TALK_VERSION__NEXTCLOUD": "32.0.1",
            "TALK_TALK__FEATURES__READ_ONLY_ROOMS": "false",
            "TALK_TALK__COMPAT__ADVERTISE_FORCE_MUTE": "true",
            "UNRELATED": "x",
        },
    )
    assert config["throttle"]["enabled"] is False
    assert config["throttle"]["max_attempts"] == 5
    assert config["server"]["trusted_proxies"] == ["10.0.0.0/8", "::1"]
    assert config["version"]["nextcloud"] == "32.0.1"
    assert config["talk"]["features"]["read-only-rooms"] is False
    assert config["talk"]["features"]["favorites"] is True
    assert config.feature_on("read-only-rooms") is False
    assert config["talk"]["compat"]["advertise_force_mute"] is True


def test_file_then_environment(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("ocs:\n  default_format: json\nthrottle:\n  max_attempts: 3\n")
    config = load_config(environ={"TALK_CONFIG": str(path), "TALK_THROTTLE__MAX_ATTEMPTS": "4"})
    assert config["ocs"]["default_format"] == "json"
    assert config["throttle"]["max_attempts"] == 4
    assert config.source == str(path)


@pytest.mark.parametrize(
    ("text", "env", "key"),
    [
        ("ocs:\n  default_format: html\n", {}, "ocs.default_format"),
        ("throttle:\n  max_attempts: many\n", {}, "throttle.max_attempts"),
        ("throttle:\n  enabled: 'yes please'\n", {}, "throttle.enabled"),
        ("server:\n  trusted_proxies: [not-an-ip]\n", {}, "server.trusted_proxies"),
        ("server:\n  colour: blue\n", {}, "server.colour"),
        ("nonsense:\n  a: 1\n", {}, "nonsense"),
        ("talk:\n  features:\n    no-such-feature: true\n", {}, "talk.features.no-such-feature"),
        ("throttle:\n  ipv6_subnet_size: 16\n", {}, "throttle.ipv6_subnet_size"),
        ("", {"TALK_DATABASE__URL": "mysql://x"}, "database.url"),
        ("", {"TALK_THROTTLE__NOPE": "1"}, "throttle.nope"),
        ("", {"TALK_PASSWORDS__ARGON2_TIME_COST": "true"}, "passwords.argon2_time_cost"),
        ("auth:\n  backend: callable\n", {}, "auth.callable"),
    ],
)
def test_invalid_config_names_the_key(tmp_path, text, env, key):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path=str(path), environ=env)
    assert key in str(info.value)


def test_pyyaml_on_off_trap_is_caught(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("ocs:\n  default_format: on\n")
    with pytest.raises(ConfigError, match="ocs.default_format"):
        load_config(path=str(path), environ={})


def test_invalid_config_stops_startup_with_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALK_")}
    env.update({"TALK_OCS__DEFAULT_FORMAT": "html", "TALK_DATABASE__URL": f"sqlite:///{tmp_path}/x.db"})
    proc = subprocess.run(
        [sys.executable, "-c", "import wsgi; wsgi.create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "ocs.default_format" in proc.stderr


def test_masked_config_hides_database_password():
    config = load_config(path=os.devnull, environ={"TALK_DATABASE__URL": "postgresql://u:hunter2@db/talk"})
    assert config.masked()["database"]["url"] == "postgresql://u:***@db/talk"
    assert "hunter2" not in str(config.masked())


def test_masked_config_hides_smtp_password():
    config = load_config(path=os.devnull, environ={"TALK_MAIL__SMTP_PASSWORD": "s3cret"})
    assert config["mail"]["smtp_password"] == "s3cret"
    assert config.masked()["mail"]["smtp_password"] == "***"


def test_postgresql_without_its_driver_is_a_clear_configuration_error(monkeypatch):
    """psycopg is the ``postgresql`` extra: a PostgreSQL URL without it says what to install."""
    import importlib.util

    from ocs import db as dbm
    from ocs.config import ConfigError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a)
    )
    config = load_config(
        path=os.devnull, environ={}, overrides={"database": {"url": "postgresql://x@127.0.0.1/db"}}
    )
    with pytest.raises(ConfigError, match=r"ocs-talk\[postgresql\]"):
        dbm.make_database(config)
