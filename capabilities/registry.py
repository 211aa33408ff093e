"""The capability registry: which Talk features this server implements and has switched on.

Feature packages call :meth:`Registry.provide` for what they implement; ``config.yaml``
(``talk.features``) switches gated features off. Everything advertised, every gated field and
every gated route asks :meth:`Registry.enabled` (``capabilities.md`` §3, D14).
"""

from __future__ import annotations

import hashlib
import json

# capabilities.md §2.2 and chat.md §11 (C16), in upstream's advertising order.
FEATURE_ORDER = (
    "chat-v2",
    "empty-group-room",
    "guest-display-names",
    "multi-room-users",
    "favorites",
    "last-room-activity",
    "no-ping",
    "system-messages",
    "delete-messages",
    "mention-flag",
    "notification-levels",
    "invite-groups-and-mails",
    "locked-one-to-one-rooms",
    "read-only-rooms",
    "listable-rooms",
    "chat-read-marker",
    "chat-unread",
    "webinary-lobby",
    "chat-replies",
    "chat-read-status",
    "room-description",
    "clear-history",
    "direct-mention-flag",
    "conversation-v2",
    "conversation-v3",
    "conversation-v4",
    "notification-calls",
    "conversation-permissions",
    "rich-object-delete",
    "chat-permission",
    "silent-send",
    "reactions",
    "react-permission",
    "avatar",
    "chat-get-context",
    "markdown-messages",
    "session-state",
    "note-to-self",
    "delete-messages-unlimited",
    "edit-messages",
    "silent-send-state",
    "chat-read-last",
    "chat-reference-id",
    "mention-permissions",
    "edit-messages-note-to-self",
    "archived-conversations-v2",
    "conversation-creation-password",
    "conversation-creation-all",
    "important-conversations",
    "sensitive-conversations",
    "promote-demote-owner",
    "message-expiration",
    "force-mute",
)

ALWAYS_ON = frozenset(
    {
        "empty-group-room",
        "multi-room-users",
        "last-room-activity",
        "no-ping",
        "conversation-v2",
        "conversation-v3",
        "conversation-v4",
    }
)

LOCAL_FEATURES = (
    "favorites",
    "chat-read-status",
    "listable-rooms",
    "avatar",
    "note-to-self",
    "archived-conversations-v2",
    "conversation-creation-all",
    "important-conversations",
    "sensitive-conversations",
)

SUPPORTED_REACTIONS = ["❤️", "🎉", "👏", "👋", "👍", "👎", "🔥", "😂", "🤩", "🤔", "😲", "😥"]

CONFIG_LOCAL = {
    "attachments": ["allowed", "folder", "conversation-subfolders"],
    "call": [
        "predefined-backgrounds",
        "predefined-backgrounds-v2",
        "can-upload-background",
        "start-without-media",
        "blur-virtual-background",
    ],
    "chat": [
        "read-privacy",
        "has-translation-providers",
        "has-translation-task-providers",
        "typing-privacy",
        "summary-threshold",
    ],
    "conversations": ["can-create", "list-style", "description-length"],
    "federation": ["enabled", "incoming-enabled", "outgoing-enabled", "only-trusted-servers"],
    "previews": ["max-gif-size"],
    "signaling": ["session-ping-limit"],
    "experiments": ["enabled"],
    "permissions": [],
}

BUILTIN_DEFAULT_PERMISSIONS = 502


class Registry:
    """What is implemented (``provide``) and on (config); builds the ``spreed`` payload."""

    def __init__(self, config):
        self.config = config
        self._provided: set[str] = set()
        self._requires: dict[str, str] = {}
        self._payloads: dict = {}
        talk = config["talk"]
        version = config["version"]
        canonical = json.dumps(talk, sort_keys=True, separators=(",", ":"))
        material = f"{version['nextcloud']}#{version['talk']}#{canonical}"
        self.talk_hash = hashlib.sha1(material.encode("utf-8")).hexdigest()  # noqa: S324 - upstream's hash

    def provide(self, *features: str, requires: str | None = None) -> None:
        """Declare features as implemented (called by feature packages when they are wired);
        with ``requires``, each is off whenever that feature is off (chat features need chat-v2)."""
        unknown = set(features) - set(FEATURE_ORDER)
        if unknown:
            raise ValueError(f"unknown Talk features: {sorted(unknown)}")
        self._provided.update(features)
        if requires is not None:
            for feature in features:
                if feature != requires:
                    self._requires[feature] = requires
        self._payloads.clear()

    def enabled(self, feature: str) -> bool:
        """Implemented and switched on (always-on features cannot be switched off)."""
        if feature == "force-mute":
            return bool(self._provided) and self.config["talk"]["compat"]["advertise_force_mute"]
        if feature not in self._provided:
            return False
        required = self._requires.get(feature)
        if required is not None and not self.enabled(required):
            return False
        return feature in ALWAYS_ON or self.config.feature_on(feature)

    def features(self) -> list[str]:
        return [f for f in FEATURE_ORDER if self.enabled(f)]

    def can_create(self, user_groups: list[str] | None) -> bool:
        """Whether a user in ``user_groups`` may create non-one-to-one conversations."""
        allowed = self.config["talk"]["allowed_creator_groups"]
        if user_groups is None:
            return False
        return not allowed or any(g in allowed for g in user_groups)

    def spreed(self, logged_in: bool, can_create: bool) -> dict:
        """The ``capabilities.spreed`` payload (cached per variant; config is static)."""
        variant = (logged_in, can_create)
        cached = self._payloads.get(variant)
        if cached is None:
            cached = self._build(logged_in, can_create)
            self._payloads[variant] = cached
        return cached

    def _build(self, logged_in: bool, can_create: bool) -> dict:
        talk = self.config["talk"]
        attachments = {"allowed": False}
        if logged_in:
            attachments["folder"] = "/Talk"
        attachments["conversation-subfolders"] = False
        features = self.features()
        return {
            "features": features,
            "features-local": [f for f in LOCAL_FEATURES if f in features],
            "config": {
                "attachments": attachments,
                "call": {
                    "enabled": False,
                    "breakout-rooms": False,
                    "recording": False,
                    "recording-consent": 0,
                    "supported-reactions": list(SUPPORTED_REACTIONS),
                    "predefined-backgrounds": [],
                    "predefined-backgrounds-v2": [],
                    "can-upload-background": False,
                    "sip-enabled": False,
                    "sip-dialout-enabled": False,
                    "can-enable-sip": False,
                    "start-without-media": False,
                    "max-duration": 0,
                    "blur-virtual-background": False,
                    "end-to-end-encryption": False,
                    "live-transcription": False,
                },
                "chat": {
                    "max-length": 32000,
                    "read-privacy": 0,
                    "has-translation-providers": False,
                    "has-translation-task-providers": False,
                    "typing-privacy": 0,
                    "summary-threshold": 100,
                },
                "conversations": {
                    "can-create": bool(logged_in and can_create),
                    "force-passwords": talk["force_passwords"],
                    "list-style": "two-lines",
                    "description-length": talk["description_max_length"],
                    "retention-event": 28,
                    "retention-phone": 7,
                    "retention-instant-meetings": 1,
                },
                "federation": {
                    "enabled": False,
                    "incoming-enabled": False,
                    "outgoing-enabled": False,
                    "only-trusted-servers": True,
                },
                "previews": {"max-gif-size": 3145728},
                "signaling": {"session-ping-limit": 200},
                "experiments": {"enabled": 0},
                "permissions": {
                    "max-default": 510,
                    "max-custom": 511,
                    "default": talk["default_permissions"] or BUILTIN_DEFAULT_PERMISSIONS,
                },
            },
            "config-local": {k: list(v) for k, v in CONFIG_LOCAL.items()},
            "version": self.config["version"]["talk"],
        }
