"""The system-message catalogue (``chat.md`` §7.2): English source texts (C14), chosen by who
looks: "You …" for the actor, "… you" for the affected user, "{actor} …" for everybody else."""

from __future__ import annotations

# name -> (actor's text, affected user's text or None, others' text)
TEXTS = {
    "conversation_created": ("You created the conversation", None, "{actor} created the conversation"),
    "description_set": ("You set the description", None, "{actor} set the description"),
    "description_removed": ("You removed the description", None, "{actor} removed the description"),
    "guests_allowed": ("You allowed guests", None, "{actor} allowed guests"),
    "guests_disallowed": ("You disallowed guests", None, "{actor} disallowed guests"),
    "password_set": ("You set a password", None, "{actor} set a password"),
    "password_removed": ("You removed the password", None, "{actor} removed the password"),
    "read_only": ("You locked the conversation", None, "{actor} locked the conversation"),
    "read_only_off": ("You unlocked the conversation", None, "{actor} unlocked the conversation"),
    "listable_none": (
        "You limited the conversation to the current participants",
        None,
        "{actor} limited the conversation to the current participants",
    ),
    "listable_users": (
        "You opened the conversation to registered users",
        None,
        "{actor} opened the conversation to registered users",
    ),
    "listable_all": (
        "You opened the conversation to registered users and users created with the Guests app",
        None,
        "{actor} opened the conversation to registered users and users created with the Guests app",
    ),
    "lobby_non_moderators": (
        "You restricted the conversation to moderators",
        None,
        "{actor} restricted the conversation to moderators",
    ),
    "lobby_none": (
        "You opened the conversation to everyone",
        None,
        "{actor} opened the conversation to everyone",
    ),
    "lobby_timer_reached": (
        "The conversation is now open to everyone",
        None,
        "The conversation is now open to everyone",
    ),
    "message_expiration_disabled": (
        "You disabled message expiration",
        None,
        "{actor} disabled message expiration",
    ),
    "avatar_set": ("You set the conversation picture", None, "{actor} set the conversation picture"),
    "avatar_removed": (
        "You removed the conversation picture",
        None,
        "{actor} removed the conversation picture",
    ),
    "user_added": ("You added {user}", "{actor} added you", "{actor} added {user}"),
    "user_removed": ("You removed {user}", "{actor} removed you", "{actor} removed {user}"),
    "group_added": ("You added group {group}", None, "{actor} added group {group}"),
    "group_removed": ("You removed group {group}", None, "{actor} removed group {group}"),
    "moderator_promoted": (
        "You promoted {user} to moderator",
        "{actor} promoted you to moderator",
        "{actor} promoted {user} to moderator",
    ),
    "moderator_demoted": (
        "You demoted {user} from moderator",
        "{actor} demoted you from moderator",
        "{actor} demoted {user} from moderator",
    ),
    "guest_moderator_promoted": (
        "You promoted {user} to moderator",
        "{actor} promoted you to moderator",
        "{actor} promoted {user} to moderator",
    ),
    "guest_moderator_demoted": (
        "You demoted {user} from moderator",
        "{actor} demoted you from moderator",
        "{actor} demoted {user} from moderator",
    ),
    "history_cleared": (
        "You cleared the history of the conversation",
        None,
        "{actor} cleared the history of the conversation",
    ),
    "message_edited": ("You edited a message", None, "{actor} edited a message"),
    "message_deleted": ("You deleted a message", None, "{actor} deleted a message"),
    "reaction_revoked": ("You deleted a reaction", None, "{actor} deleted a reaction"),
}

# user joined / left by themselves: the "user" is the actor
SELF_TEXTS = {
    "user_added": ("You joined the conversation", "{actor} joined the conversation"),
    "user_removed": ("You left the conversation", "{actor} left the conversation"),
}


def expiration_text(seconds: int, you: bool) -> str:
    """``message_expiration_enabled``: weeks, days, hours or minutes, rounded, singular for 1."""
    for unit, size in (("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size or unit == "minute":
            n = round(seconds / size)
            break
    label = unit if n == 1 else unit + "s"
    subject = "You" if you else "{actor}"
    return f"{subject} set the message expiration to {n} {label}"


def text_for(name: str, parameters: dict, viewer_is_actor: bool, viewer_is_affected: bool) -> str | None:
    """The text of a system message for one viewer, or None for an unknown name."""
    if name == "conversation_renamed":
        old, new = parameters.get("oldName", ""), parameters.get("newName", "")
        subject = "You" if viewer_is_actor else "{actor}"
        return f'{subject} renamed the conversation from "{old}" to "{new}"'
    if name == "message_expiration_enabled":
        return expiration_text(int(parameters.get("seconds", 0)), viewer_is_actor)
    if name in SELF_TEXTS and parameters.get("by_self"):
        you, others = SELF_TEXTS[name]
        return you if viewer_is_actor else others
    texts = TEXTS.get(name)
    if texts is None:
        return None
    mine, affected, others = texts
    if viewer_is_actor:
        return mine
    if viewer_is_affected and affected is not None:
        return affected
    return others
