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

# Routes without a token: logged-in users only.
PLAIN_ROUTES = [
    ("GET", "/room", {}, "200 401"),
    ("POST", "/room", {"json_body": {"roomType": 2, "roomName": "n"}}, "201 401"),
    ("GET", "/room/note-to-self", {}, "200 401"),
    ("GET", "/listed-room", {}, "200 401"),
]
