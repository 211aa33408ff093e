"""The declarative permission matrix: route x room state x role -> expected HTTP status (v4,
OCS v2). Roles, in column order: owner, moderator, user, stranger, anonymous. Room states:
G group, P public, O one-to-one (both users owners: the "user" column is the second owner;
there is no moderator, "-"). ``security.md`` §1.3, ``participants.md`` §14.

Every Talk route served by the app must appear here (``test_authz.py`` checks it).
"""

from __future__ import annotations

ROLES = ("owner", "moderator", "user", "stranger", "anonymous")

# (method, route template under /apps/spreed/api/{apiVersion}, concrete suffix, request kwargs,
#  {state: statuses}) — concrete suffix is appended to /room/{token} for token routes.
TOKEN_ROUTES = [
    (
        "GET",
        "/room/{token}",
        "",
        {},
        {"G": "200 200 200 404 404", "P": "200 200 200 200 200", "O": "200 - 200 404 404"},
    ),
    (
        "PUT",
        "/room/{token}",
        "",
        {"params": {"roomName": "New"}},
        {"G": "200 200 403 404 404", "P": "200 200 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "DELETE",
        "/room/{token}",
        "",
        {},
        {"G": "200 200 403 404 404", "P": "200 200 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "PUT",
        "/room/{token}/description",
        "/description",
        {"params": {"description": "d"}},
        {"G": "200 200 403 404 404", "P": "200 200 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "POST",
        "/room/{token}/public",
        "/public",
        {},
        {"G": "200 200 403 404 401", "P": "200 200 403 404 401", "O": "400 - 400 404 401"},
    ),
    (
        "DELETE",
        "/room/{token}/public",
        "/public",
        {},
        {"G": "200 200 403 404 401", "P": "200 200 403 404 401", "O": "400 - 400 404 401"},
    ),
    (
        "PUT",
        "/room/{token}/read-only",
        "/read-only",
        {"form": {"state": 1}},
        {"G": "200 200 403 404 401", "P": "200 200 403 404 401", "O": "400 - 400 404 401"},
    ),
    (
        "PUT",
        "/room/{token}/password",
        "/password",
        {"form": {"password": "pw12"}},
        {"G": "400 400 403 404 404", "P": "200 200 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "PUT",
        "/room/{token}/listable",
        "/listable",
        {"form": {"scope": 1}},
        {"G": "200 200 403 404 401", "P": "200 200 403 404 401", "O": "400 - 400 404 401"},
    ),
    (
        "POST",
        "/room/{token}/favorite",
        "/favorite",
        {},
        {"G": "200 200 200 404 401", "P": "200 200 200 404 401", "O": "200 - 200 404 401"},
    ),
    (
        "DELETE",
        "/room/{token}/favorite",
        "/favorite",
        {},
        {"G": "200 200 200 404 401", "P": "200 200 200 404 401", "O": "200 - 200 404 401"},
    ),
    (
        "POST",
        "/room/{token}/notify",
        "/notify",
        {"form": {"level": 1}},
        {"G": "200 200 200 404 401", "P": "200 200 200 404 401", "O": "200 - 200 404 401"},
    ),
    (
        "POST",
        "/room/{token}/notify-calls",
        "/notify-calls",
        {"form": {"level": 0}},
        {"G": "200 200 200 404 401", "P": "200 200 200 404 401", "O": "200 - 200 404 401"},
    ),
    (
        "PUT",
        "/room/{token}/webinar/lobby",
        "/webinar/lobby",
        {"form": {"state": 1}},
        {"G": "200 200 403 404 401", "P": "200 200 403 404 401", "O": "400 - 400 404 401"},
    ),
    (
        "PUT",
        "/room/{token}/webinary/lobby",
        "/webinary/lobby",
        {"form": {"state": 1}, "version": "v3"},
        {"G": "200 200 403 404 401", "P": "200 200 403 404 401", "O": "400 - 400 404 401"},
    ),
    (
        "PUT",
        "/room/{token}/permissions/{mode}",
        "/permissions/default",
        {"form": {"permissions": 4}},
        {"G": "200 200 403 404 404", "P": "200 200 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "POST",
        "/room/{token}/message-expiration",
        "/message-expiration",
        {"form": {"seconds": 60}},
        {"G": "200 200 403 404 404", "P": "200 200 403 404 404", "O": "200 - 200 404 404"},
    ),
    (
        "PUT",
        "/room/{token}/mention-permissions",
        "/mention-permissions",
        {"form": {"mentionPermissions": 1}},
        {"G": "200 200 403 404 401", "P": "200 200 403 404 401", "O": "400 - 400 404 401"},
    ),
    (
        "POST",
        "/room/{token}/archive",
        "/archive",
        {},
        {"G": "200 200 200 404 401", "P": "200 200 200 404 401", "O": "200 - 200 404 401"},
    ),
    (
        "DELETE",
        "/room/{token}/archive",
        "/archive",
        {},
        {"G": "200 200 200 404 401", "P": "200 200 200 404 401", "O": "200 - 200 404 401"},
    ),
    (
        "POST",
        "/room/{token}/important",
        "/important",
        {},
        {"G": "200 200 200 404 401", "P": "200 200 200 404 401", "O": "200 - 200 404 401"},
    ),
    (
        "DELETE",
        "/room/{token}/important",
        "/important",
        {},
        {"G": "200 200 200 404 401", "P": "200 200 200 404 401", "O": "200 - 200 404 401"},
    ),
    (
        "POST",
        "/room/{token}/sensitive",
        "/sensitive",
        {},
        {"G": "200 200 200 404 401", "P": "200 200 200 404 401", "O": "200 - 200 404 401"},
    ),
    (
        "DELETE",
        "/room/{token}/sensitive",
        "/sensitive",
        {},
        {"G": "200 200 200 404 401", "P": "200 200 200 404 401", "O": "200 - 200 404 401"},
    ),
    (
        "GET",
        "/room/{token}/capabilities",
        "/capabilities",
        {},
        {"G": "200 200 200 404 404", "P": "200 200 200 404 404", "O": "200 - 200 404 404"},
    ),
    (
        "POST",
        "/room/{token}/avatar",
        "/avatar",
        {"version": "v1", "avatar_upload": True},
        {"G": "200 200 403 404 404", "P": "200 200 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "DELETE",
        "/room/{token}/avatar",
        "/avatar",
        {"version": "v1"},
        {"G": "200 200 403 404 404", "P": "200 200 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "POST",
        "/room/{token}/avatar/emoji",
        "/avatar/emoji",
        {"version": "v1", "json_body": {"emoji": "🎈"}},
        {"G": "200 200 403 404 404", "P": "200 200 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "GET",
        "/room/{token}/avatar",
        "/avatar",
        {"version": "v1", "raw": True},
        {"G": "200 200 200 404 404", "P": "200 200 200 404 404", "O": "200 - 200 404 404"},
    ),
    (
        "GET",
        "/room/{token}/avatar/dark",
        "/avatar/dark",
        {"version": "v1", "raw": True},
        {"G": "200 200 200 404 404", "P": "200 200 200 404 404", "O": "200 - 200 404 404"},
    ),
]

# Participant and session routes. "@tgt" is replaced by the attendee id of the target: a plain
# user "tgt" in group and public rooms, the other owner in one-to-ones.
TOKEN_ROUTES += [
    (
        "GET",
        "/room/{token}/participants",
        "/participants",
        {},
        {"G": "200 200 200 404 404", "P": "200 200 200 404 404", "O": "200 - 200 404 404"},
    ),
    (
        "POST",
        "/room/{token}/participants",
        "/participants",
        {"form": {"newParticipant": "extra"}},
        {"G": "200 200 403 404 401", "P": "200 200 403 404 401", "O": "400 - 400 404 401"},
    ),
    (
        "DELETE",
        "/room/{token}/participants",
        "/participants",
        {"version": "v3", "form": {"participant": "tgt"}},
        {"G": "200 200 403 404 404", "P": "200 200 403 404 404", "O": "404 - 404 404 404"},
    ),
    (
        "DELETE",
        "/room/{token}/participants/guests",
        "/participants/guests",
        {"version": "v3", "form": {"participant": "nosuchsession"}},
        {"G": "404 404 403 404 404", "P": "404 404 403 404 404", "O": "404 - 404 404 404"},
    ),
    (
        "DELETE",
        "/room/{token}/attendees",
        "/attendees",
        {"form": {"attendeeId": "@tgt"}},
        {"G": "200 200 403 404 404", "P": "200 200 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "DELETE",
        "/room/{token}/participants/self",
        "/participants/self",
        {},
        {"G": "200 200 200 404 401", "P": "200 200 200 404 401", "O": "200 - 200 404 401"},
    ),
    (
        "POST",
        "/room/{token}/participants/active",
        "/participants/active",
        {},
        {"G": "200 200 200 404 404", "P": "200 200 200 200 200", "O": "200 - 200 404 404"},
    ),
    (
        "DELETE",
        "/room/{token}/participants/active",
        "/participants/active",
        {},
        {"G": "200 200 200 200 200", "P": "200 200 200 200 200", "O": "200 - 200 200 200"},
    ),
    (
        "PUT",
        "/room/{token}/participants/state",
        "/participants/state",
        {"form": {"state": 1}},
        {"G": "404 404 404 404 404", "P": "404 404 404 404 404", "O": "404 - 404 404 404"},
    ),
    (
        "POST",
        "/room/{token}/participants/resend-invitations",
        "/participants/resend-invitations",
        {},
        {"G": "200 200 403 404 401", "P": "200 200 403 404 401", "O": "200 - 200 404 401"},
    ),
    (
        "POST",
        "/room/{token}/moderators",
        "/moderators",
        {"form": {"attendeeId": "@tgt"}},
        {"G": "200 200 403 404 404", "P": "200 200 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "DELETE",
        "/room/{token}/moderators",
        "/moderators",
        {"form": {"attendeeId": "@tgt"}},
        {"G": "400 400 403 404 404", "P": "400 400 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "PUT",
        "/room/{token}/attendees/permissions",
        "/attendees/permissions",
        {"form": {"attendeeId": "@tgt", "method": "set", "permissions": 8}},
        {"G": "200 200 403 404 404", "P": "200 200 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "PUT",
        "/room/{token}/attendees/permissions/all",
        "/attendees/permissions/all",
        {"form": {"method": "set", "permissions": 8}},
        {"G": "400 400 403 404 404", "P": "400 400 403 404 404", "O": "400 - 400 404 404"},
    ),
    (
        "POST",
        "/guest/{token}/name",
        "",
        {"version": "v1", "guest_path": True, "form": {"displayName": "G"}},
        {"G": "403 403 403 404 404", "P": "403 403 403 404 404", "O": "403 - 403 404 404"},
    ),
]

# The roles that need a Talk session, in a public room (participants.md §14.1), in column order:
# guest (type 4), guest moderator (type 6), self-joined user (type 5). Keyed by (method, template).
SESSION_ROLES = ("guest", "guest_moderator", "self_joined")
SESSION_ROLE_STATUSES = {
    ("GET", "/room/{token}"): "200 200 200",
    ("PUT", "/room/{token}"): "403 200 403",
    ("DELETE", "/room/{token}"): "403 200 403",
    ("PUT", "/room/{token}/description"): "403 200 403",
    ("POST", "/room/{token}/public"): "401 401 403",
    ("DELETE", "/room/{token}/public"): "401 401 403",
    ("PUT", "/room/{token}/read-only"): "401 401 403",
    ("PUT", "/room/{token}/password"): "403 200 403",
    ("PUT", "/room/{token}/listable"): "401 401 403",
    ("POST", "/room/{token}/favorite"): "401 401 200",
    ("DELETE", "/room/{token}/favorite"): "401 401 200",
    ("POST", "/room/{token}/notify"): "401 401 200",
    ("POST", "/room/{token}/notify-calls"): "401 401 200",
    ("PUT", "/room/{token}/webinar/lobby"): "401 401 403",
    ("PUT", "/room/{token}/webinary/lobby"): "401 401 403",
    ("PUT", "/room/{token}/permissions/{mode}"): "403 200 403",
    ("POST", "/room/{token}/message-expiration"): "403 200 403",
    ("PUT", "/room/{token}/mention-permissions"): "401 401 403",
    ("POST", "/room/{token}/archive"): "401 401 200",
    ("DELETE", "/room/{token}/archive"): "401 401 200",
    ("POST", "/room/{token}/important"): "401 401 200",
    ("DELETE", "/room/{token}/important"): "401 401 200",
    ("POST", "/room/{token}/sensitive"): "401 401 200",
    ("DELETE", "/room/{token}/sensitive"): "401 401 200",
    ("GET", "/room/{token}/capabilities"): "200 200 200",
    ("POST", "/room/{token}/avatar"): "403 200 403",
    ("DELETE", "/room/{token}/avatar"): "403 200 403",
    ("POST", "/room/{token}/avatar/emoji"): "403 200 403",
    ("GET", "/room/{token}/avatar"): "200 200 200",
    ("GET", "/room/{token}/avatar/dark"): "200 200 200",
    ("GET", "/room/{token}/participants"): "403 200 200",
    ("POST", "/room/{token}/participants"): "401 401 403",
    ("DELETE", "/room/{token}/participants"): "403 200 403",
    ("DELETE", "/room/{token}/participants/guests"): "403 404 403",
    ("DELETE", "/room/{token}/attendees"): "403 200 403",
    ("DELETE", "/room/{token}/participants/self"): "401 401 200",
    ("POST", "/room/{token}/participants/active"): "200 200 200",
    ("DELETE", "/room/{token}/participants/active"): "200 200 200",
    ("PUT", "/room/{token}/participants/state"): "200 200 200",
    ("POST", "/room/{token}/participants/resend-invitations"): "401 401 403",
    ("POST", "/room/{token}/moderators"): "403 200 403",
    ("DELETE", "/room/{token}/moderators"): "403 400 403",
    ("PUT", "/room/{token}/attendees/permissions"): "403 200 403",
    ("PUT", "/room/{token}/attendees/permissions/all"): "403 400 403",
    ("POST", "/guest/{token}/name"): "200 200 403",
}

# State L, a listable group room, answers like G except for strangers (participants.md §14.2):
# they may see it (listable view), join it (as members) and see its avatar.
LISTABLE_STRANGER = {
    ("GET", "/room/{token}"): "200",
    ("POST", "/room/{token}/participants/active"): "200",
    ("GET", "/room/{token}/avatar"): "200",
    ("GET", "/room/{token}/avatar/dark"): "200",
}
for _method, _template, _suffix, _kwargs, _states in TOKEN_ROUTES:
    _g = _states["G"].split()
    _g[3] = LISTABLE_STRANGER.get((_method, _template), _g[3])
    _states["L"] = " ".join(_g)

# Routes without a token: logged-in users only.
PLAIN_ROUTES = [
    ("GET", "/room", {}, "200 401"),
    ("POST", "/room", {"json_body": {"roomType": 2, "roomName": "n"}}, "201 401"),
    ("GET", "/room/note-to-self", {}, "200 401"),
    ("GET", "/listed-room", {}, "200 401"),
    ("GET", "/signaling/settings", {"version": "v3"}, "200 404"),
]
