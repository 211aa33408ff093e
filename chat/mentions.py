"""Mentions in chat text (``chat.md`` §5.3): detection in the stored text, and the placeholder
replacement Talk renders (C12: a plain substring replacement outside code)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Nextcloud's Comment::getMentions: at the start or after whitespace, @id, @"id with spaces",
# @"guest/…", @"email/…", @"group/…"
MENTION = re.compile(
    r"""(?:^|(?<=\s))(@[A-Za-z0-9_\-@.']+|@"(?:guest|email)/[A-Za-z0-9]+"|@"(?:group|team|user)/[A-Za-z0-9_\-@.' /:]+"|@"[A-Za-z0-9_\-@.' ]+")"""
)
CODE = re.compile(r"```[\s\S]*?```|`[^`\n]*`")

USER = "user"
GUEST = "guest"
EMAIL = "email"
GROUP = "group"
CALL = "call"


@dataclass(frozen=True)
class Mention:
    """A detected mention: its kind, id (without prefix) and the raw text it was written as."""

    kind: str
    id: str
    raw: str


def detect(text: str) -> list[Mention]:
    """Every distinct mention in ``text`` (code included, as upstream), longest raw text first."""
    seen: dict[str, Mention] = {}
    for match in MENTION.finditer(text):
        raw = match.group(1)
        if raw in seen:
            continue
        body = raw[2:-1] if raw.startswith('@"') else raw[1:]
        if body.startswith("guest/"):
            mention = Mention(GUEST, body[len("guest/") :], raw)
        elif body.startswith("email/"):
            mention = Mention(EMAIL, body[len("email/") :], raw)
        elif body.startswith("group/"):
            mention = Mention(GROUP, body[len("group/") :], raw)
        elif body.startswith(("team/", "user/")):
            continue  # teams and federated users do not exist here
        elif body == "all":
            mention = Mention(CALL, "all", raw)
        else:
            mention = Mention(USER, body, raw)
        seen[raw] = mention
    # NOTE: upstream sorts by the length of the raw mention (quotes included), longest first,
    # and numbers the placeholders in that order: '@"bob"' comes before '@bob'.
    return sorted(seen.values(), key=lambda m: len(m.raw), reverse=True)


def replace_outside_code(text: str, replacements: list[tuple[str, str]]) -> str:
    """Replace each (search, placeholder) pair everywhere except inside code spans and blocks."""
    if not replacements:
        return text
    parts = []
    last = 0
    for code in CODE.finditer(text):
        parts.append((False, text[last : code.start()]))
        parts.append((True, code.group(0)))
        last = code.end()
    parts.append((False, text[last:]))
    out = []
    for is_code, chunk in parts:
        if not is_code:
            for search, placeholder in replacements:
                chunk = chunk.replace(search, placeholder)
        out.append(chunk)
    return "".join(out)


def searches_for(kind: str, mention_id: str) -> list[str]:
    """The texts that stand for a mention: the quoted form, and the bare form when it can be bare."""
    prefixed = {GUEST: "guest/", EMAIL: "email/", GROUP: "group/"}.get(kind, "")
    full = prefixed + mention_id
    searches = [f'@"{full}"']
    if not prefixed and " " not in mention_id:
        searches.append("@" + full)
    return searches
