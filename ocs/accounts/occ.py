"""``occ``: Nextcloud-style administration commands for accounts and configuration.

Same syntax as Nextcloud's ``occ``::

    OC_PASS=secret occ user:add --password-from-env --display-name="Alice A" --group=admin alice

The command loads the same configuration as the server (``config.yaml``, ``TALK_*``), wires the
application (so account changes reach conversations exactly as through the API) and exits 0 on
success, 1 with a message on stderr otherwise.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import logging
import os
import sys

from ocs.accounts import service as accounts
from ocs.config import ConfigError, load_config
from ocs.errors import ProvisioningError


class CommandError(Exception):
    pass


def _password(args, environ) -> str:
    if args.password_from_env:
        value = environ.get("OC_PASS", "")
        if not value:
            raise CommandError("--password-from-env given, but OC_PASS is empty!")
        return value
    if not sys.stdin.isatty():
        raise CommandError("Interactive input or --password-from-env is needed for entering a password!")
    first = getpass.getpass("Enter password: ")
    second = getpass.getpass("Confirm password: ")
    if first != second:
        raise CommandError("Passwords did not match!")
    return first


def _emit(args, data, plain_lines) -> None:
    if args.output == "json":
        print(json.dumps(data, separators=(",", ":")))
    elif args.output == "json_pretty":
        print(json.dumps(data, indent=4))
    else:
        for line in plain_lines:
            print(line)


def cmd_user_add(args, platform, environ):
    password = _password(args, environ)
    user = accounts.create_user(
        platform.passwords,
        args.uid,
        password=password,
        display_name=args.display_name or "",
        groups=[],
        hooks=platform.hooks,
    )
    print(f'The account "{user.uid}" was created successfully')
    for gid in args.group or []:
        if accounts.find_group(gid) is None:
            accounts.create_group(gid)
            print(f'Created group "{gid}"')
        accounts.add_member(gid, user.uid, platform.hooks)
        print(f'Account "{user.uid}" added to group "{gid}"')


def cmd_user_delete(args, platform, environ):
    user = accounts.find_user(args.uid)
    if user is None:
        raise CommandError("Account does not exist")
    accounts.delete_user(user.uid, platform.hooks)
    print("The specified account was deleted")


def cmd_user_list(args, platform, environ):
    uids = accounts.list_users(limit=args.limit, offset=args.offset)
    names = {uid: accounts.find_user(uid).shown_name for uid in uids}
    _emit(args, names, [f"  - {uid}: {name}" for uid, name in names.items()])


def cmd_user_resetpassword(args, platform, environ):
    if accounts.find_user(args.uid) is None:
        raise CommandError("Account does not exist")
    accounts.set_password(platform.passwords, args.uid, _password(args, environ))
    print(f"Successfully reset password for {accounts.find_user(args.uid).uid}")


def cmd_group_add(args, platform, environ):
    accounts.create_group(args.gid, args.display_name)
    print(f'Created group "{args.gid}"')


def cmd_group_delete(args, platform, environ):
    if args.gid == accounts.ADMIN_GROUP:
        raise CommandError('Group "admin" could not be deleted.')
    if accounts.find_group(args.gid) is None:
        raise CommandError(f'Group "{args.gid}" does not exist.')
    accounts.delete_group(args.gid, platform.hooks)
    print(f'Group "{args.gid}" was removed')


def _group_and_users(args) -> None:
    if accounts.find_group(args.gid) is None:
        raise CommandError("group not found")
    for uid in args.uids:
        if accounts.find_user(uid) is None:
            raise CommandError(f"user not found: {uid}")


def cmd_group_adduser(args, platform, environ):
    _group_and_users(args)
    for uid in args.uids:
        accounts.add_member(args.gid, uid, platform.hooks)


def cmd_group_removeuser(args, platform, environ):
    _group_and_users(args)
    for uid in args.uids:
        accounts.remove_member(args.gid, uid, hooks=platform.hooks)


def cmd_group_list(args, platform, environ):
    groups = {
        gid: accounts.group_member_ids(gid)
        for gid in accounts.list_groups(limit=args.limit, offset=args.offset)
    }
    lines = []
    for gid, members in groups.items():
        lines.append(f"  - {gid}:")
        lines.extend(f"    - {uid}" for uid in members)
    _emit(args, groups, lines)


def _account(uid: str):
    user = accounts.find_user(uid)
    if user is None:
        raise CommandError("user not found")
    return user


def cmd_auth_tokens_add(args, platform, environ):
    """Nextcloud ``user:auth-tokens:add``: a new app password, printed once."""
    user = _account(args.user)
    if args.password_from_env or sys.stdin.isatty():
        password = _password(args, environ)
        if not accounts.verify_login(platform.passwords, user.uid, password):
            raise CommandError("The password is not correct")
    _row, plain = platform.app_passwords.create(user, args.name)
    print("app password:")
    print(plain)


def cmd_auth_tokens_list(args, platform, environ):
    """Nextcloud ``user:auth-tokens:list``: the user's app passwords (never their secrets)."""
    user = _account(args.user)
    rows = [
        {"id": t.id, "name": t.name, "created": t.created_at, "lastActivity": t.last_activity, "type": 1}
        for t in platform.app_passwords.of_user(user)
    ]
    header = f"{'id':>6}  {'name':<40}  {'created':>10}  {'last activity':>13}"
    lines = [header] + [
        f"{r['id']:>6}  {r['name'][:40]:<40}  {r['created']:>10}  {r['lastActivity']:>13}" for r in rows
    ]
    _emit(args, rows, lines)


def cmd_auth_tokens_delete(args, platform, environ):
    """Nextcloud ``user:auth-tokens:delete``: one app password by id, or all last used before a date."""
    user = _account(args.uid)
    tokens = platform.app_passwords.of_user(user)
    if args.id is not None:
        doomed = [t for t in tokens if t.id == args.id]
        if not doomed:
            raise CommandError("No token with that id found for this user")
    elif args.last_used_before is not None:
        doomed = [t for t in tokens if t.last_activity < args.last_used_before]
    else:
        raise CommandError("Either an id or --last-used-before is needed")
    for token in doomed:
        platform.app_passwords.delete(token.id)
    if args.id is None:
        print(f"Deleted {len(doomed)} app password(s)")


def cmd_config_list(args, platform, environ):
    data = platform.config.masked()
    if args.output == "plain":
        print(json.dumps(data, indent=4, ensure_ascii=False))
    else:
        _emit(args, data, [])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="occ", description="ocs-talk administration (Nextcloud occ syntax)")
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.required = True

    def command(name, handler, help_text):
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("user:add", cmd_user_add, "add an account")
    p.add_argument("uid")
    p.add_argument("--password-from-env", action="store_true", help="read the password from $OC_PASS")
    p.add_argument("--display-name", default="")
    p.add_argument("-g", "--group", action="append", help="add the account to this group (repeatable)")

    p = command("user:delete", cmd_user_delete, "delete an account and everything it owns")
    p.add_argument("uid")

    p = command("user:list", cmd_user_list, "list accounts")
    p.add_argument("--output", choices=("plain", "json", "json_pretty"), default="plain")
    p.add_argument("-l", "--limit", type=int, default=500)
    p.add_argument("-o", "--offset", type=int, default=0)

    p = command("user:resetpassword", cmd_user_resetpassword, "set an account's password")
    p.add_argument("uid")
    p.add_argument("--password-from-env", action="store_true")

    p = command("group:add", cmd_group_add, "add a group")
    p.add_argument("gid")
    p.add_argument("--display-name", default=None)

    p = command("group:delete", cmd_group_delete, "remove a group")
    p.add_argument("gid")

    p = command("group:adduser", cmd_group_adduser, "add accounts to a group")
    p.add_argument("gid")
    p.add_argument("uids", nargs="+")

    p = command("group:removeuser", cmd_group_removeuser, "remove accounts from a group")
    p.add_argument("gid")
    p.add_argument("uids", nargs="+")

    p = command("group:list", cmd_group_list, "list groups and their members")
    p.add_argument("--output", choices=("plain", "json", "json_pretty"), default="plain")
    p.add_argument("-l", "--limit", type=int, default=500)
    p.add_argument("-o", "--offset", type=int, default=0)

    p = command("user:auth-tokens:add", cmd_auth_tokens_add, "create an app password for a user")
    p.add_argument("user")
    p.add_argument(
        "--password-from-env", action="store_true", help="confirm with the account password in $OC_PASS"
    )
    p.add_argument("--name", default="cli", help="the app password's name (default: cli)")

    p = command("user:auth-tokens:list", cmd_auth_tokens_list, "list a user's app passwords")
    p.add_argument("user")
    p.add_argument("--output", choices=("plain", "json", "json_pretty"), default="plain")

    p = command("user:auth-tokens:delete", cmd_auth_tokens_delete, "revoke app passwords of a user")
    p.add_argument("uid")
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--last-used-before", type=int, default=None, help="unix time: delete those unused since")

    p = command("config:list", cmd_config_list, "print the effective configuration, secrets masked")
    p.add_argument("--output", choices=("plain", "json", "json_pretty"), default="json_pretty")
    return parser


def main(argv=None, environ=None) -> int:
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(environ=environ)
        quiet = load_config(environ=environ, overrides={"server": {"log_level": "WARNING"}})
        # The app factory wires every feature's account hooks; occ acts exactly as the API does.
        wsgi = importlib.import_module("wsgi")
        platform = wsgi.create_app(quiet).platform
        platform.config = config  # config:list shows the configuration as the server sees it
        args.handler(args, platform, environ)
    except ConfigError as exc:
        print(f"Invalid configuration: {exc}", file=sys.stderr)
        return 1
    except ProvisioningError as exc:
        print(exc.message or f"Failed (code {exc.status})", file=sys.stderr)
        return 1
    except CommandError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
