"""Configuration: documented defaults, ``config.yaml``, environment overrides, validation.

This module is the only reader of ``os.environ`` in the project. ``load_config`` returns a
validated :class:`Config`; invalid values stop start-up with a :class:`ConfigError` that names
the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any

import yaml

ENV_PREFIX = "TALK_"
CONFIG_ENV = "TALK_CONFIG"
DEFAULT_CONFIG_FILE = "config.yaml"


class ConfigError(Exception):
    """Invalid configuration; the message names the offending key."""


@dataclass(frozen=True)
class Key:
    """One configuration key: its default and how its value is checked."""

    default: Any
    kind: type | tuple = str
    choices: tuple | None = None
    minimum: int | None = None
    maximum: int | None = None
    check: Any = None  # optional callable(value) -> error message or None


def _cidr_list(value):
    for item in value:
        try:
            ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            return f"{item!r} is not an IP address or CIDR network"
    return None


def _version(value):
    if not re.fullmatch(r"\d+\.\d+\.\d+", value):
        return "must look like MAJOR.MINOR.MICRO"
    return None


def _dotted_path(value):
    if value and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*|[A-Za-z_][\w.]*\.[A-Za-z_]\w*", value):
        return "must be a dotted path such as 'package.module:function'"
    return None


def _header_name(value):
    if not re.fullmatch(r"[A-Za-z0-9-]+", value):
        return "must be an HTTP header name"
    return None


# Optional Talk features that config.yaml can switch (capabilities.md §3), with defaults.
TALK_FEATURE_DEFAULTS = {
    "guest-display-names": True,
    "favorites": True,
    "notification-levels": True,
    "invite-groups-and-mails": True,
    "locked-one-to-one-rooms": True,
    "read-only-rooms": True,
    "listable-rooms": True,
    "webinary-lobby": True,
    "room-description": True,
    "notification-calls": True,
    "conversation-permissions": True,
    "avatar": True,
    "session-state": True,
    "note-to-self": True,
    "mention-permissions": True,
    "archived-conversations-v2": True,
    "conversation-creation-password": True,
    "conversation-creation-all": True,
    "important-conversations": True,
    "sensitive-conversations": True,
    "promote-demote-owner": True,
    "message-expiration": True,
    "chat-v2": True,
    "system-messages": True,
    "mention-flag": True,
    "direct-mention-flag": True,
    "chat-read-marker": True,
    "chat-unread": True,
    "chat-read-last": True,
    "chat-read-status": True,
    "chat-replies": True,
    "chat-reference-id": True,
    "chat-get-context": True,
    "chat-permission": True,
    "react-permission": True,
    "reactions": True,
    "delete-messages": True,
    "delete-messages-unlimited": True,
    "edit-messages": True,
    "edit-messages-note-to-self": True,
    "silent-send": True,
    "silent-send-state": True,
    "clear-history": True,
    "markdown-messages": True,
    "rich-object-delete": True,
}

SCHEMA: dict[str, dict[str, Key]] = {
    "server": {
        "base_path": Key(
            "",
            check=lambda v: (
                None
                if v == "" or (v.startswith("/") and not v.endswith("/"))
                else "must be empty or start with / and not end with /"
            ),
        ),
        "trusted_proxies": Key([], list, check=_cidr_list),
        "max_body_bytes": Key(1048576, int, minimum=1024),
        "max_avatar_upload_bytes": Key(10485760, int, minimum=1024),
        "discard_body_bytes": Key(16777216, int, minimum=0),
        "secret": Key(
            "", check=lambda v: None if v == "" or len(v) >= 32 else "must be at least 32 characters"
        ),
        "public_url": Key(
            "",
            check=lambda v: (
                None
                if v == "" or (re.match(r"^https?://[^/\s]+(/\S*)?$", v) and not v.endswith("/"))
                else "must be empty or an http(s) URL without a trailing /"
            ),
        ),
        "maintenance": Key(False, bool),
        "log_level": Key("INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    },
    "ocs": {
        "default_format": Key("xml", choices=("xml", "json")),
        "require_api_request_header": Key("always", choices=("always", "cookie")),
    },
    "version": {
        "nextcloud": Key("31.0.0", check=_version),
        "build": Key(0, int, minimum=0),
        "talk": Key("21.1.0", check=_version),
        "product_name": Key("Nextcloud"),
        "extended_support": Key(False, bool),
    },
    "database": {
        "url": Key(
            "sqlite:///./data/talk.db",
            check=lambda v: (
                None
                if re.match(r"^(sqlite|postgres|postgresql)://", v)
                else "must start with sqlite:// or postgresql://"
            ),
        ),
        "sqlite_synchronous": Key("NORMAL", choices=("NORMAL", "FULL")),
        "busy_timeout_ms": Key(5000, int, minimum=100),
        "pool_max_connections": Key(8, int, minimum=1),
        "pool_stale_timeout": Key(300, int, minimum=1),
        "pool_wait_timeout": Key(10, int, minimum=0),
    },
    "login": {
        "enabled": Key(True, bool),
        "allow_app_password_creation": Key(True, bool),
    },
    "auth": {
        "backend": Key("local", choices=("local", "trusted_header", "callable")),
        "trusted_header": Key("X-Remote-User", check=_header_name),
        "trusted_header_proxies": Key(["127.0.0.1/32", "::1/128"], list, check=_cidr_list),
        "callable": Key("", check=_dotted_path),
        "provision_users": Key(True, bool),
    },
    "throttle": {
        "enabled": Key(True, bool),
        "testing": Key(False, bool),
        "max_attempts": Key(10, int, minimum=1),
        "ipv6_subnet_size": Key(64, int, minimum=32, maximum=64),
        "bypass": Key([], list, check=_cidr_list),
        "max_delayed_requests": Key(1, int, minimum=0),
    },
    "passwords": {
        "argon2_memory_cost": Key(19456, int, minimum=8),
        "argon2_time_cost": Key(2, int, minimum=1),
        "argon2_parallelism": Key(1, int, minimum=1),
        "credential_cache_ttl": Key(300, int, minimum=0),
    },
    "session": {
        "cookie_name": Key(
            "ocs_talk_session",
            check=lambda v: None if re.fullmatch(r"[A-Za-z0-9_-]+", v) else "must be a cookie name",
        ),
        "idle_timeout": Key(86400, int, minimum=60),
    },
    "talk": {
        "features": Key(dict(TALK_FEATURE_DEFAULTS), dict),
        "compat": Key({"advertise_force_mute": False}, dict),
        "allowed_creator_groups": Key([], list),
        "force_passwords": Key(False, bool),
        "room_password_min_length": Key(0, int, minimum=0, maximum=1024),
        "default_group_notification": Key(2, int, minimum=1, maximum=3),
        "default_permissions": Key(0, int, minimum=0, maximum=510),
        "delete_one_to_one_conversations": Key(False, bool),
        "session_ping_timeout": Key(100, int, minimum=10),
        "description_max_length": Key(2000, int, minimum=1, maximum=100000),
        "stun_servers": Key([], list),
        "hide_signaling_warning": Key(False, bool),
        "room_list_cache_mb": Key(16, int, minimum=0),
        "room_list_cache_verify": Key(False, bool),
    },
    "provisioning": {
        "enabled": Key(True, bool),
    },
    "mail": {
        "enabled": Key(False, bool),
        "smtp_host": Key("localhost"),
        "smtp_port": Key(25, int, minimum=1, maximum=65535),
        "smtp_starttls": Key(False, bool),
        "smtp_ssl": Key(False, bool),
        "smtp_username": Key(""),
        "smtp_password": Key(""),
        "from_address": Key("talk@localhost"),
        "timeout": Key(10, int, minimum=1, maximum=120),
        "public_url": Key(""),
    },
}

# Sub-keys of the dict-valued keys above, with the type of their values.
NESTED = {
    ("talk", "features"): (TALK_FEATURE_DEFAULTS, bool),
    ("talk", "compat"): ({"advertise_force_mute": False}, bool),
}

SECRET_KEYS = {("database", "url")}


class Config:
    """Validated configuration: ``config['section']['key']`` or ``config.get('section.key')``."""

    def __init__(self, data: dict, source: str | None = None):
        self._data = data
        self.source = source

    def __getitem__(self, section: str) -> dict:
        return self._data[section]

    def get(self, dotted: str) -> Any:
        node: Any = self._data
        for part in dotted.split("."):
            node = node[part]
        return node

    def as_dict(self) -> dict:
        return _deep_copy(self._data)

    def masked(self) -> dict:
        """The effective configuration with secrets masked (for ``occ config:list``)."""
        data = self.as_dict()
        url = data["database"]["url"]
        data["database"]["url"] = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
        if data["mail"]["smtp_password"]:
            data["mail"]["smtp_password"] = "***"  # noqa: S105 - the mask, not a password
        if data["server"]["secret"]:
            data["server"]["secret"] = "***"  # noqa: S105 - the mask
        return data

    def feature_on(self, feature: str) -> bool:
        return bool(self._data["talk"]["features"].get(feature, False))


def _deep_copy(value):
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def defaults() -> dict:
    """The built-in default of every key."""
    return {s: {k: _deep_copy(key.default) for k, key in keys.items()} for s, keys in SCHEMA.items()}


def _norm(name: str) -> str:
    return name.lower().replace("-", "_")


def _check_value(path: str, key: Key, value: Any) -> Any:
    kind = key.kind
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
    elif kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
    elif kind is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{path}: expected a list of strings, got {value!r}")
    elif kind is str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
    if key.choices is not None and value not in key.choices:
        raise ConfigError(f"{path}: must be one of {', '.join(map(str, key.choices))}, got {value!r}")
    if key.minimum is not None and value < key.minimum:
        raise ConfigError(f"{path}: must be at least {key.minimum}, got {value!r}")
    if key.maximum is not None and value > key.maximum:
        raise ConfigError(f"{path}: must be at most {key.maximum}, got {value!r}")
    if key.check is not None:
        problem = key.check(value)
        if problem:
            raise ConfigError(f"{path}: {problem}")
    return value


def _merge_nested(path: str, current: dict, given: Any, spec: tuple) -> dict:
    known, value_type = spec
    if not isinstance(given, dict):
        raise ConfigError(f"{path}: expected a mapping, got {given!r}")
    result = dict(current)
    by_norm = {_norm(k): k for k in known}
    for name, value in given.items():
        canonical = by_norm.get(_norm(str(name)))
        if canonical is None:
            raise ConfigError(f"{path}.{name}: unknown key")
        if value_type is bool and not isinstance(value, bool):
            raise ConfigError(f"{path}.{name}: expected true or false, got {value!r}")
        result[canonical] = value
    return result


def _apply(data: dict, section: str, name: str, value: Any, origin: str) -> None:
    keys = SCHEMA[section]
    key = keys[name]
    path = f"{section}.{name}"
    if (section, name) in NESTED:
        data[section][name] = _merge_nested(path, data[section][name], value, NESTED[(section, name)])
    else:
        data[section][name] = _check_value(path, key, value)


def _apply_file(data: dict, loaded: Any, origin: str) -> None:
    if loaded is None:
        return
    if not isinstance(loaded, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of sections")
    for section, values in loaded.items():
        if section not in SCHEMA:
            raise ConfigError(f"{section}: unknown section (in {origin})")
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"{section}: expected a mapping of keys (in {origin})")
        for name, value in values.items():
            if name not in SCHEMA[section]:
                raise ConfigError(f"{section}.{name}: unknown key (in {origin})")
            _apply(data, section, name, value, origin)


def _parse_env_value(path: str, key: Key, raw: str) -> Any:
    if key.kind is str:
        return raw
    try:
        return yaml.safe_load(raw) if raw.strip() else ([] if key.kind is list else raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: cannot parse environment value {raw!r}") from exc


def _apply_env(data: dict, environ: dict) -> None:
    for var, raw in sorted(environ.items()):
        if not var.startswith(ENV_PREFIX) or var == CONFIG_ENV:
            continue
        parts = var[len(ENV_PREFIX) :].split("__")
        if len(parts) < 2:
            continue
        section = parts[0].lower()
        if section not in SCHEMA:
            continue
        by_norm = {_norm(k): k for k in SCHEMA[section]}
        name = by_norm.get(_norm(parts[1]))
        if name is None:
            raise ConfigError(f"{section}.{parts[1].lower()}: unknown key (from {var})")
        key = SCHEMA[section][name]
        path = f"{section}.{name}"
        if len(parts) == 3 and (section, name) in NESTED:
            known, value_type = NESTED[(section, name)]
            sub_norm = {_norm(k): k for k in known}
            sub = sub_norm.get(_norm(parts[2]))
            if sub is None:
                raise ConfigError(f"{path}.{parts[2].lower()}: unknown key (from {var})")
            value = _parse_env_value(f"{path}.{sub}", Key(False, value_type), raw)
            _apply(data, section, name, {sub: value}, var)
        elif len(parts) == 2:
            _apply(data, section, name, _parse_env_value(path, key, raw), var)
        else:
            raise ConfigError(f"{path}: {var} has too many parts")


def load_config(
    path: str | None = None, environ: dict | None = None, overrides: dict | None = None
) -> Config:
    """Load defaults, then the YAML file, then ``TALK_*`` variables, then ``overrides``.

    The file is ``path``, else ``$TALK_CONFIG``, else ``./config.yaml`` when it exists.
    """
    env = os.environ if environ is None else environ
    data = defaults()
    source = path or env.get(CONFIG_ENV)
    if source is None and os.path.exists(DEFAULT_CONFIG_FILE):
        source = DEFAULT_CONFIG_FILE
    if source is not None:
        try:
            with open(source, encoding="utf-8") as fh:
                loaded = yaml.safe_load(fh)
        except OSError as exc:
            raise ConfigError(f"config file {source}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {source}: invalid YAML: {exc}") from exc
        _apply_file(data, loaded, source)
    _apply_env(data, env)
    if overrides:
        _apply_file(data, overrides, "overrides")
    if data["auth"]["backend"] == "callable" and not data["auth"]["callable"]:
        raise ConfigError("auth.callable: required when auth.backend is 'callable'")
    return Config(data, source)
