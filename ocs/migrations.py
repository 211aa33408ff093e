"""Schema migrations of the platform (accounts, throttling). Feature packages keep their own."""

from __future__ import annotations

from ocs.db import Dialect, Migration


def _accounts(d: Dialect) -> None:
    d.run(
        f"""CREATE TABLE users (
            id {d.pk},
            uid VARCHAR(64) NOT NULL UNIQUE,
            uid_lower VARCHAR(64) NOT NULL UNIQUE,
            display_name VARCHAR(255) NOT NULL DEFAULT '',
            email VARCHAR(254),
            password_hash TEXT,
            credential_epoch INTEGER NOT NULL DEFAULT 0,
            last_login {d.bigint} NOT NULL DEFAULT 0,
            created_at {d.bigint} NOT NULL)""",
        """CREATE TABLE user_groups (
            gid VARCHAR(64) PRIMARY KEY,
            display_name VARCHAR(255) NOT NULL DEFAULT '')""",
        """CREATE TABLE group_members (
            gid VARCHAR(64) NOT NULL REFERENCES user_groups (gid) ON DELETE CASCADE,
            uid VARCHAR(64) NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
            PRIMARY KEY (gid, uid))""",
        "CREATE INDEX group_members_uid ON group_members (uid)",
        "INSERT INTO user_groups (gid, display_name) VALUES ('admin', 'admin')",
    )


def _throttle(d: Dialect) -> None:
    d.run(
        f"""CREATE TABLE bruteforce_attempts (
            id {d.pk},
            action VARCHAR(64) NOT NULL,
            occurred {d.bigint} NOT NULL,
            ip VARCHAR(64) NOT NULL,
            subnet VARCHAR(64) NOT NULL,
            metadata TEXT NOT NULL)""",
        "CREATE INDEX bruteforce_subnet_action ON bruteforce_attempts (subnet, action, occurred)",
        "CREATE INDEX bruteforce_occurred ON bruteforce_attempts (occurred)",
    )


def _app_passwords(d: Dialect) -> None:
    d.run(
        f"""CREATE TABLE app_passwords (
            id {d.pk},
            user_id {d.bigint} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            login_name VARCHAR(64) NOT NULL,
            name VARCHAR(128) NOT NULL DEFAULT '',
            secret_hash CHAR(64) NOT NULL UNIQUE,
            created_at {d.bigint} NOT NULL,
            last_activity {d.bigint} NOT NULL,
            last_rotated_at {d.bigint})""",
        "CREATE INDEX app_passwords_user ON app_passwords (user_id)",
    )


MIGRATIONS = [
    Migration(1, "users, groups and memberships", _accounts),
    Migration(2, "brute-force attempts", _throttle),
    Migration(3, "app passwords", _app_passwords),
]
