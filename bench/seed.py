"""Seed a benchmark database: users ``u{N}`` in exactly N conversations with chat in them.

Rooms and memberships are inserted in bulk; messages, mentions, replies and reactions go through
the chat service, so the room objects carry real ``lastMessage`` and unread fields. The random
seed is fixed, so every run serves the same bytes.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "benchpw"  # noqa: S105 - a benchmark account
MEMBERS = 300


def seed(url: str, sizes=(10, 58, 1000), messages_per_room: int = 3) -> None:
    """Users ``u{N}`` for N in ``sizes`` and ``m0`` … ``m299``; each room has 1–3 other members."""
    import wsgi
    from conversations.access import RoomContext
    from conversations.models import Attendee, Room
    from ocs import db as dbm
    from ocs.accounts.models import User

    app = wsgi.create_app(
        {
            "database": {"url": url},
            "server": {"log_level": "WARNING"},
            "throttle": {"enabled": False},
        }
    )
    platform = app.platform
    hashed = platform.passwords.hash(PASSWORD)
    rng = random.Random(20261202)
    now = int(time.time())
    users = [f"u{n}" for n in sizes] + [f"m{i}" for i in range(MEMBERS)]
    with dbm.write_tx():
        User.insert_many(
            [
                {
                    "uid": u,
                    "uid_lower": u,
                    "display_name": u.upper(),
                    "password_hash": hashed,
                    "created_at": now,
                }
                for u in users
            ]
        ).execute()
    by_uid = {u.uid: u for u in User.select()}
    counter = 0
    pairs = set()
    for size in sizes:
        owner = f"u{size}"
        created = []
        with dbm.write_tx():
            for _ in range(size):
                counter += 1
                kind = rng.choice(("one", "group", "group", "public", "password", "lobby", "readonly"))
                others = rng.sample(range(MEMBERS), 3)
                room_type = {"one": 1, "public": 3, "password": 3}.get(kind, 2)
                key = json.dumps(sorted([owner, f"m{others[0]}"]), separators=(",", ":"))
                if room_type == 1 and key in pairs:
                    room_type = 2  # each pair has one one-to-one room
                if room_type == 1:
                    pairs.add(key)
                members = others[:1] if room_type == 1 else others
                room = Room.create(
                    token=f"b{counter:07d}",
                    type=room_type,
                    name="" if room_type == 1 else f"Room {counter} – Ünïcode <team>",
                    description="Seeded for the benchmark" if kind == "group" else "",
                    one_to_one_key=key if room_type == 1 else None,
                    password_hash=hashed if kind == "password" else None,
                    lobby_state=1 if kind == "lobby" else 0,
                    read_only=1 if kind == "readonly" else 0,
                    last_activity=now - rng.randrange(86400),
                    created_at=now,
                )
                rows = [
                    {
                        "room": room.id,
                        "actor_type": "users",
                        "actor_id": owner,
                        "participant_type": 1,
                        "created_at": now,
                    }
                ]
                rows += [
                    {
                        "room": room.id,
                        "actor_type": "users",
                        "actor_id": f"m{m}",
                        "participant_type": 1 if room_type == 1 else 3,
                        "created_at": now,
                    }
                    for m in members
                ]
                Attendee.insert_many(rows).execute()
                created.append((room.id, [f"m{m}" for m in members]))
        chat = platform.chat
        for room_id, members in created:
            room = Room.get_by_id(room_id)
            attendees = {a.actor_id: a for a in Attendee.select().where(Attendee.room == room_id)}

            def ctx(uid, room=room, attendees=attendees):
                return RoomContext(room=room, attendee=attendees[uid], user=by_uid[uid])

            first = chat.send(ctx(owner), f"Hello @{members[0]}, the plan is on the wiki")[0]
            room = Room.get_by_id(room_id)
            for n in range(messages_per_room - 1):
                author = members[n % len(members)]
                text = f"@{owner} see the **notes** (#{n})" if n == 0 else f"Reply {n} for @all"
                row = chat.send(ctx(author, room), text, reply_to=first.id if n else 0)[0]
                room = Room.get_by_id(room_id)
            chat.react(ctx(members[0], room), row.id, "👍")
            chat.react(ctx(owner, Room.get_by_id(room_id)), row.id, "🎉")
    dbm.discard_connections()


if __name__ == "__main__":
    seed(sys.argv[1] if len(sys.argv) > 1 else os.environ["TALK_DATABASE__URL"])
