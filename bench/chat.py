"""Benchmark: chat under the README's serving model (gunicorn with gevent workers).

Measures, against a real gunicorn on loopback (wrk must be installed: ``apt-get install wrk``):

1. ``GET /room`` throughput (10 conversations with messages, 4 connections) without and with
   ``--polls`` idle long polls held open, and the ratio of the two (target >= 0.8 at 1,000 polls);
2. resident memory of each worker while the polls wait (target < 150 MB with 500 per worker);
3. how fast every held poll answers once a message arrives in its room;
4. delivery latency of a new message to a waiting poll: in the same process (one worker) and in
   another process (a second gunicorn instance on the same database) — targets p99 < 100 ms and
   < 1.2 s;
5. messages posted per second and history pages (``limit=100``) served per second, 4 clients.

Usage (from the repository root)::

    python bench/chat.py [--database postgresql://postgres@127.0.0.1:5432/bench] [--duration 8]

Without ``--database`` a fresh SQLite file is used; a PostgreSQL database is emptied first.
``BENCH_SERVE`` replaces the gunicorn options (e.g. ``--worker-class gthread --workers 2
--threads 600 --worker-connections 600`` to compare with threads).
Every step is bounded in time and sends traffic only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import SERVE, free_port, worker_rss, wrk  # noqa: E402, F401
from common import start as start_app  # noqa: E402

POLL_ROOMS = 100
PASSWORD = "benchpw"  # noqa: S105 - a throwaway password of the benchmark's own users
# What is measured here is chat, not password hashing: 1,000 first logins with the default
# argon2id cost (19 MB, ~40 ms each) would keep both cores busy for seconds. The server gets the
# same cheap parameters, so it does not rehash on login.
CHEAP_HASHES = {"argon2_memory_cost": 1024, "argon2_time_cost": 1}


def auth(uid: str) -> str:
    return "Basic " + base64.b64encode(f"{uid}:{PASSWORD}".encode()).decode()


def seed(url: str, polls: int) -> dict:
    """Users and rooms: poll rooms with members, a listed user with 10 busy rooms, a history room."""
    import wsgi
    from chat.models import ChatMessage
    from conversations.models import Attendee, Room
    from ocs import db as dbm
    from ocs.accounts.models import User
    from ocs.accounts.passwords import Passwords
    from ocs.config import load_config

    config = load_config(
        path=os.devnull,
        environ={},
        overrides={"database": {"url": url}, "server": {"log_level": "WARNING"}, "passwords": CHEAP_HASHES},
    )
    wsgi.init_database(config)
    dbm.db.initialize(dbm.make_database(config))
    hashed = Passwords(config).hash(PASSWORD)
    now = int(time.time())
    pollers = [f"w{i}" for i in range(polls)]
    users = ["poster", "lister", "reader", *pollers]
    with dbm.write_tx():
        for start in range(0, len(users), 500):
            User.insert_many(
                [
                    {
                        "uid": u,
                        "uid_lower": u,
                        "display_name": u.title(),
                        "password_hash": hashed,
                        "created_at": now,
                    }
                    for u in users[start : start + 500]
                ]
            ).execute()

    def room(token, name, members, messages):
        r = Room.create(token=token, type=2, name=name, last_activity=now, created_at=now)
        Attendee.insert_many(
            [
                {
                    "room": r.id,
                    "actor_type": "users",
                    "actor_id": m,
                    "participant_type": 1 if i == 0 else 3,
                    "created_at": now,
                }
                for i, m in enumerate(members)
            ]
        ).execute()
        last = None
        for i in range(messages):
            text = f"message {i} for @{members[-1]}" if i % 10 == 0 else f"message {i}"
            last = ChatMessage.create(
                room=r.id,
                actor_type="users",
                actor_id=members[0],
                verb="comment",
                message=text,
                created_at=now,
                meta='{"can_mention_all":true}',
            )
        Room.update(last_message_id=last.id).where(Room.id == r.id).execute()
        return r.token, last.id

    info = {"poll_rooms": [], "list_rooms": [], "history": None}
    with dbm.write_tx():
        for i in range(POLL_ROOMS):
            members = ["poster"] + pollers[i::POLL_ROOMS]
            info["poll_rooms"].append(room(f"poll{i:04d}", f"Poll {i}", members, 1))
        for i in range(10):
            info["list_rooms"].append(room(f"list{i:04d}", f"List {i}", ["poster", "lister", "reader"], 20))
        info["history"] = room("history0", "History", ["poster", "reader"], 300)
    dbm.discard_connections()
    return info


def start(env: dict, workers: int | None = None) -> tuple[subprocess.Popen, int]:
    return start_app("wsgi:create_app()", env, SERVE, workers)


def request(port: int, method: str, path: str, uid: str, body: str | None = None, timeout: float = 60):
    headers = {"OCS-APIRequest": "true", "Accept": "application/json", "Authorization": auth(uid)}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body.encode() if body else None, headers=headers, method=method
    )
    with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310 - loopback only
        raw = response.read()
        return response.status, json.loads(raw)["ocs"]["data"] if raw else None


def post(port: int, token: str, text: str = "hi", uid: str = "poster") -> int:
    status, data = request(
        port, "POST", f"/ocs/v2.php/apps/spreed/api/v1/chat/{token}", uid, f"message={text}"
    )
    assert status == 201
    return data["id"]


async def hold_polls(port: int, targets: list[tuple[str, str, int]], hold: asyncio.Event, report: dict):
    """Open one long poll per (user, room, last id), keep them waiting until ``hold`` is set,
    then count how long each takes to answer."""

    async def one(uid, token, last):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        path = f"/ocs/v2.php/apps/spreed/api/v1/chat/{token}?lookIntoFuture=1&timeout=30&lastKnownMessageId={last}"
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOCS-APIRequest: true\r\nAccept: application/json\r\n"
                f"Authorization: {auth(uid)}\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        report["opened"] += 1
        status_line = await reader.readline()
        report["early" if not hold.is_set() else "answered"] += 1
        report["statuses"].append(status_line.split()[1].decode() if status_line else "closed")
        report["answered_at"].append(time.monotonic())
        writer.close()

    await asyncio.gather(*(one(*t) for t in targets))


def latency(poll_port: int, post_port: int, token: str, trials: int) -> list[float]:
    """Seconds from sending a message to a waiting poll's answer, ``trials`` times."""
    results = []
    for _ in range(trials):
        last = post(post_port, token, "baseline")
        answered = {}

        def poll(last=last, answered=answered):
            request(
                poll_port,
                "GET",
                f"/ocs/v2.php/apps/spreed/api/v1/chat/{token}?lookIntoFuture=1&timeout=10"
                f"&lastKnownMessageId={last}",
                "reader",
            )
            answered["at"] = time.monotonic()

        waiter = threading.Thread(target=poll)
        waiter.start()
        time.sleep(0.15)  # the poll is waiting by now
        sent = time.monotonic()
        post(post_port, token, "wake")
        waiter.join(15)
        results.append(answered["at"] - sent)
    return results


def wrk_post(port: int, token: str, duration: int, workdir: Path) -> dict:
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.body = "message=benchmark message"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        'wrk.headers["OCS-APIRequest"] = "true"\nwrk.headers["Accept"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "{auth("poster")}"\n'
    )
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c4",
            f"-d{duration}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/ocs/v2.php/apps/spreed/api/v1/chat/{token}",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    import re

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "errors": int(errors.group(1)) if errors else 0,
    }


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="")
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--polls", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="ocs-talk-chat-bench-"))
    url = args.database or f"sqlite:///{workdir}/bench.db"
    if url.startswith("postgres"):
        from tests.conftest import reset_postgres

        reset_postgres(url)
    info = seed(url, args.polls)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALK_")}
    env.update(
        {
            "TALK_DATABASE__URL": url,
            "TALK_SERVER__LOG_LEVEL": "WARNING",
            "TALK_PASSWORDS__ARGON2_MEMORY_COST": str(CHEAP_HASHES["argon2_memory_cost"]),
            "TALK_PASSWORDS__ARGON2_TIME_COST": str(CHEAP_HASHES["argon2_time_cost"]),
        }
    )
    kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"{kind}; gunicorn {' '.join(SERVE)}; {args.polls} pollers in {POLL_ROOMS} rooms")
    main_proc, port = start(env)
    procs = [main_proc]
    try:
        room_url = f"http://127.0.0.1:{port}/ocs/v2.php/apps/spreed/api/v4/room"
        wrk(room_url, auth("lister"), 2, 4, workdir)  # warm up
        idle = wrk(room_url, auth("lister"), args.duration, 4, workdir)
        print(
            f"GET /room (10 rooms), 4 connections, no polls: {idle['rps']:.0f} req/s, p99 {idle['p99']:.1f} ms"
        )

        targets = [
            (f"w{i}", info["poll_rooms"][i % POLL_ROOMS][0], info["poll_rooms"][i % POLL_ROOMS][1])
            for i in range(args.polls)
        ]
        report = {"opened": 0, "early": 0, "answered": 0, "statuses": [], "answered_at": []}
        hold = asyncio.Event()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=lambda: loop.run_until_complete(hold_polls(port, targets, hold, report)), daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 30
        while report["opened"] < args.polls and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)  # let every poll reach its wait
        rss = worker_rss(main_proc)
        busy = wrk(room_url, auth("lister"), args.duration, 4, workdir)
        rss = [max(a, b) for a, b in zip(rss, worker_rss(main_proc), strict=False)]
        print(
            f"GET /room with {report['opened']} polls held ({report['early']} answered early): "
            f"{busy['rps']:.0f} req/s, p99 {busy['p99']:.1f} ms, ratio {busy['rps'] / idle['rps']:.2f} (target >= 0.8)"
        )
        print(f"worker RSS while polls wait: {', '.join(f'{m:.0f} MB' for m in rss)} (target < 150 MB each)")
        loop.call_soon_threadsafe(hold.set)
        woken = time.monotonic()
        for token, _ in info["poll_rooms"]:
            post(port, token, "wake")
        thread.join(60)
        ok = sum(1 for s in report["statuses"] if s == "200")
        spread = max(report["answered_at"]) - woken if report["answered_at"] else float("nan")
        print(
            f"a message in each of the {POLL_ROOMS} rooms answered {ok}/{args.polls} polls with 200 within {spread:.2f} s"
        )

        single, single_port = start(env, workers=1)
        procs.append(single)
        other, other_port = start(env, workers=1)
        procs.append(other)
        token = info["list_rooms"][0][0]
        same = latency(single_port, single_port, token, args.trials)
        cross = latency(other_port, single_port, token, args.trials)
        print(
            f"delivery, same process:    p50 {statistics.median(same) * 1000:.0f} ms, p99 {p(same, 0.99) * 1000:.0f} ms"
            " (target p99 < 100 ms)"
        )
        print(
            f"delivery, another process: p50 {statistics.median(cross) * 1000:.0f} ms, p99 {p(cross, 0.99) * 1000:.0f} ms"
            " (target p99 < 1200 ms)"
        )

        posting = wrk_post(port, info["list_rooms"][1][0], args.duration, workdir)
        print(f"messages posted, 4 clients: {posting['rps']:.0f}/s ({posting['errors']} errors)")
        history_url = (
            f"http://127.0.0.1:{port}/ocs/v2.php/apps/spreed/api/v1/chat/{info['history'][0]}"
            "?lookIntoFuture=0&limit=100"
        )
        pages = wrk(history_url, auth("reader"), args.duration, 4, workdir)
        print(f"history pages (limit=100), 4 clients: {pages['rps']:.0f}/s, p99 {pages['p99']:.1f} ms")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
