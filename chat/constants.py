"""Chat constants (``chat.md``)."""

from __future__ import annotations

# verbs of chat rows (chat.md §2)
COMMENT = "comment"
SYSTEM = "system"
COMMENT_DELETED = "comment_deleted"
REACTION = "reaction"
REACTION_DELETED = "reaction_deleted"

MAX_MESSAGE_LENGTH = 32000
MAX_REFERENCE_ID = 64
HISTORY_LIMIT_DEFAULT = 100
HISTORY_LIMIT_MAX = 200
POLL_TIMEOUT_MAX = 30
CONTEXT_LIMIT_DEFAULT = 50
CONTEXT_LIMIT_MAX = 100
MENTION_LIMIT_DEFAULT = 20
EDIT_AGE_LIMIT = 24 * 3600
GUEST_MENTION_LIMIT = 50  # per 24 hours and address (C11)

UNREAD_FIRST_MESSAGE = -2  # "nothing read"
LEGACY_UNREAD = -1

# actor of rows without a person behind them
SYSTEM_ACTOR = ("guests", "system")
DELETED_USERS = "deleted_users"

# actor types whose comments can be replied to (chat.md §3.1)
REPLYABLE_ACTORS = frozenset({"users", "guests", "emails", "bots", "federated_users"})

# system messages that do not become the room's last message (chat.md §7.2)
NOT_LAST_MESSAGE = frozenset({"message_edited", "message_deleted", "reaction_revoked"})

# The feature strings the chat package implements (chat.md §11, C16), in advertising order.
FEATURES = (
    "chat-v2",
    "system-messages",
    "mention-flag",
    "direct-mention-flag",
    "chat-read-marker",
    "chat-unread",
    "chat-read-last",
    "chat-read-status",
    "chat-replies",
    "chat-reference-id",
    "chat-get-context",
    "chat-permission",
    "react-permission",
    "reactions",
    "delete-messages",
    "delete-messages-unlimited",
    "edit-messages",
    "edit-messages-note-to-self",
    "silent-send",
    "silent-send-state",
    "clear-history",
    "markdown-messages",
    "rich-object-delete",
)
