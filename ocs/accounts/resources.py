"""``/cloud/user`` and the provisioning subset (``ocs.md`` §12a, §13)."""

from __future__ import annotations

from ocs import envelope, throttle
from ocs.accounts import service as accounts
from ocs.app import ADMIN, USER, policy
from ocs.errors import Forbidden, InvalidParameter, ProvisioningError

SUB_ADMIN = "Logged in account must be at least a sub admin"
MAX_SEARCH = 1000
GROUP_ADMIN = "Logged in account must be an admin, a sub admin or gotten special right to access this setting"
QUOTA = {"free": -3, "used": 0, "total": -3, "relative": 0, "quota": -3}
EDITABLE_KEYS = {"display", "displayname", "email", "password"}


def user_details(user) -> dict:
    """The user-details object, key order as Nextcloud's provisioning API (§13.3)."""
    name = user.shown_name
    return {
        "enabled": True,
        "id": user.uid,
        "lastLogin": int(user.last_login or 0) * 1000,
        "backend": "Database",
        "subadmin": [],
        "quota": dict(QUOTA),
        "manager": "",
        "email": user.email,
        "additional_mail": [],
        "displayname": name,
        "display-name": name,
        "phone": "",
        "address": "",
        "website": "",
        "twitter": "",
        "fediverse": "",
        "organisation": "",
        "role": "",
        "headline": "",
        "biography": "",
        "profile_enabled": "1",
        "groups": accounts.user_groups(user),
        "language": "en",
        "locale": "",
        "notify_email": user.email,
        "backendCapabilities": {"setDisplayName": True, "setPassword": True},
    }


def search_params(req) -> tuple[str, int | None, int]:
    """``search``, ``limit`` and ``offset`` of the provisioning list routes."""
    params = req.context.params
    search = params.string("search", "")
    if len(search) > MAX_SEARCH:
        # longer than any user id, display name or group name; also past SQLite's LIKE limit
        raise InvalidParameter("search")
    return (
        search,
        params.nullable_integer("limit", minimum=0),
        params.integer("offset", 0, minimum=0),
    )


def _may_see(req, target) -> bool:
    me = req.context.user
    return target is not None and (me.uid == target.uid or accounts.is_admin(me))


class CurrentUserResource:
    """``GET /cloud/user``: the authenticated user's details."""

    @policy(auth=USER)
    def on_get(self, req, resp):
        # read again: the request's user may come from the credential cache, whose row is not
        # refreshed when only the last login time changed
        me = req.context.user
        envelope.respond(req, resp, user_details(accounts.user_by_id(me.id) or me))


class UsersResource:
    def __init__(self, platform):
        self.platform = platform

    @policy(auth=ADMIN, admin_message=SUB_ADMIN)
    def on_get(self, req, resp):
        envelope.respond(req, resp, {"users": accounts.list_users(*search_params(req))})

    @policy(auth=ADMIN, admin_message=SUB_ADMIN)
    def on_post(self, req, resp):
        params = req.context.params
        uid = params.string("userid", "")
        if not uid:
            raise ProvisioningError(101, accounts.INVALID_USER_ID)
        groups = params.string_list("groups")
        user = accounts.create_user(
            self.platform.passwords,
            uid,
            password=params.string("password", ""),
            display_name=params.string("displayName", ""),
            email=params.string("email", ""),
            groups=groups,
            hooks=self.platform.hooks,
        )
        envelope.respond(req, resp, {"id": user.uid})


class UserResource:
    def __init__(self, platform):
        self.platform = platform

    @policy(auth=USER)
    def on_get(self, req, resp, userId):
        target = accounts.find_user(userId)
        if target is None:
            raise ProvisioningError(404, "User does not exist")
        if not _may_see(req, target):
            raise ProvisioningError(998, "")
        envelope.respond(req, resp, user_details(target))

    @policy(auth=USER)
    def on_put(self, req, resp, userId):
        params = req.context.params
        target = accounts.find_user(userId)
        if not _may_see(req, target):
            raise ProvisioningError(998, "")
        key = params.string("key", "")
        if key not in EDITABLE_KEYS:
            raise ProvisioningError(113, "")
        value = params.string("value", "", empty_is_absent=False)
        if key in ("display", "displayname"):
            accounts.set_display_name(target.uid, value, self.platform.hooks)
        elif key == "email":
            accounts.set_email(target.uid, value)
        else:
            accounts.set_password(self.platform.passwords, target.uid, value)
        envelope.respond(req, resp, [])

    @policy(auth=ADMIN, admin_message=SUB_ADMIN)
    def on_delete(self, req, resp, userId):
        target = accounts.find_user(userId)
        if target is None:
            raise ProvisioningError(998, "")
        if target.uid == req.context.user.uid:
            raise ProvisioningError(101, "")
        accounts.delete_user(target.uid, self.platform.hooks)
        envelope.respond(req, resp, [])


class UserGroupsResource:
    def __init__(self, platform):
        self.platform = platform

    @policy(auth=USER)
    def on_get(self, req, resp, userId):
        target = accounts.find_user(userId)
        if not _may_see(req, target):
            raise ProvisioningError(998, "")
        envelope.respond(req, resp, {"groups": accounts.user_groups(target)})

    @policy(auth=ADMIN, admin_message=SUB_ADMIN)
    def on_post(self, req, resp, userId):
        accounts.add_member(req.context.params.string("groupid", ""), userId, self.platform.hooks)
        envelope.respond(req, resp, [])

    @policy(auth=ADMIN, admin_message=SUB_ADMIN)
    def on_delete(self, req, resp, userId):
        gid = req.context.params.string("groupid", "")
        accounts.remove_member(gid, userId, acting_uid=req.context.user.uid, hooks=self.platform.hooks)
        envelope.respond(req, resp, [])


class GroupsResource:
    @policy(auth=ADMIN, admin_message=SUB_ADMIN)
    def on_get(self, req, resp):
        envelope.respond(req, resp, {"groups": accounts.list_groups(*search_params(req))})

    @policy(auth=ADMIN, admin_message=GROUP_ADMIN)
    def on_post(self, req, resp):
        params = req.context.params
        gid = params.string("groupid", "")
        if not gid:
            raise ProvisioningError(101, "Invalid group name")
        accounts.create_group(gid, params.string("displayname", None))
        envelope.respond(req, resp, [])


class GroupResource:
    def __init__(self, platform):
        self.platform = platform

    @policy(auth=ADMIN, admin_message=SUB_ADMIN)
    def on_get(self, req, resp, groupId):
        if accounts.find_group(groupId) is None:
            raise ProvisioningError(404, "The requested group could not be found")
        envelope.respond(req, resp, {"users": accounts.group_member_ids(groupId)})

    @policy(auth=ADMIN, admin_message=SUB_ADMIN)
    def on_put(self, req, resp, groupId):
        params = req.context.params
        if params.string("key", "") != "displayname":
            raise ProvisioningError(997, "")
        accounts.set_group_display_name(
            groupId, params.string("value", "", empty_is_absent=False), self.platform.hooks
        )
        envelope.respond(req, resp, [])

    @policy(auth=ADMIN, admin_message=SUB_ADMIN)
    def on_delete(self, req, resp, groupId):
        accounts.delete_group(groupId, self.platform.hooks)
        envelope.respond(req, resp, [])


def add_routes(app, platform) -> None:
    """Wire ``/cloud/user`` always and the provisioning subset when ``provisioning.enabled``."""
    app.add_route("/ocs/cloud/user", CurrentUserResource())
    if platform.config["login"]["enabled"]:
        app.add_route("/ocs/core/getapppassword", AppPasswordCreateResource(platform))
        app.add_route("/ocs/core/apppassword", AppPasswordResource(platform))
        app.add_route("/ocs/core/apppassword/rotate", AppPasswordRotateResource(platform))
        app.add_route("/ocs/core/apppassword/confirm", AppPasswordConfirmResource(platform))
    if not platform.config["provisioning"]["enabled"]:
        return
    app.add_route("/ocs/cloud/users", UsersResource(platform))
    app.add_route("/ocs/cloud/users/{userId}", UserResource(platform))
    app.add_route("/ocs/cloud/users/{userId}/groups", UserGroupsResource(platform))
    app.add_route("/ocs/cloud/groups", GroupsResource())
    app.add_route("/ocs/cloud/groups/{groupId}", GroupResource(platform))


# --- app passwords (login §7) ----------------------------------------------------------------

NO_APP_PASSWORD = "no app password in use"  # noqa: S105 - a message


class AppPasswordCreateResource:
    """``GET /core/getapppassword``: turn account-password credentials into an app password."""

    def __init__(self, platform):
        self.platform = platform

    @policy(auth=USER)
    def on_get(self, req, resp):
        ctx = req.context
        if ctx.app_password_id is not None:
            # upstream's password confirmation answers before its own "cannot request" check
            raise Forbidden(message="Password confirmation is required")
        if not self.platform.config["login"]["allow_app_password_creation"]:
            raise Forbidden(message="App password creation is disabled")
        _row, plain = self.platform.app_passwords.create(ctx.user, req.get_header("User-Agent") or "")
        envelope.respond(req, resp, {"apppassword": plain})


class AppPasswordResource:
    """``DELETE /core/apppassword``: revoke the app password of this request ("log out")."""

    def __init__(self, platform):
        self.platform = platform

    @policy(auth=USER)
    def on_delete(self, req, resp):
        token_id = req.context.app_password_id
        if token_id is None:
            raise Forbidden(message=NO_APP_PASSWORD)
        self.platform.app_passwords.delete(token_id)
        envelope.respond(req, resp, [])


class AppPasswordRotateResource:
    """``POST /core/apppassword/rotate``: a new secret for the app password of this request."""

    def __init__(self, platform):
        self.platform = platform

    @policy(auth=USER)
    def on_post(self, req, resp):
        token_id = req.context.app_password_id
        if token_id is None:
            raise Forbidden(message=NO_APP_PASSWORD)
        envelope.respond(req, resp, {"apppassword": self.platform.app_passwords.rotate(token_id)})


class AppPasswordConfirmResource:
    """``PUT /core/apppassword/confirm``: check the account password (sudo mode upstream)."""

    def __init__(self, platform):
        self.platform = platform

    @policy(auth=USER, throttle=(throttle.SUDO,))
    def on_put(self, req, resp):
        ctx = req.context
        password = ctx.params.string("password", "")
        user = ctx.user
        ok = bool(password) and self.platform.passwords.verify(password, accounts.password_hash_of(user))[0]
        metadata = {"loginName": user.uid}
        if not ok:
            self.platform.throttler.register(ctx.client, throttle.SUDO, metadata)
            raise Forbidden(message="")
        self.platform.throttler.reset(ctx.client, throttle.SUDO, metadata)
        envelope.respond(req, resp, {"lastLogin": int(self.platform.clock())})
