"""Benchmark: ``GET /room`` for users with 10, 100, 1,000 and 10,000 conversations, against a
bare Falcon app serving a fixed OCS body of the same size (``performance.md`` §8).

Usage (from the repository root, with wrk installed: ``apt-get install wrk``)::

    python bench/room_list.py [--duration 10] [--connections 16] [--workers 2] [--threads 4]

It seeds a fresh SQLite database (fixed random seed), starts gunicorn on a free loopback port
for ocs-talk and for the reference app with the same settings, runs wrk against each and prints
requests per second and p50/p99 latency, the ratio to the reference, and the growth from 100 to
1,000 conversations. Every run is bounded by ``--duration``; it sends traffic only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (10, 100, 1000, 10000)
ROOM_PATH = "/ocs/v2.php/apps/spreed/api/v4/room"
LUA = """
wrk.method = "GET"
wrk.headers["OCS-APIRequest"] = "true"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "{auth}"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(url: str) -> None:
    """Users u10 … u10000 in exactly that many conversations, each with 3 other members."""
    import wsgi
    from ocs import db as dbm
    from ocs.accounts.passwords import Passwords
    from ocs.config import load_config

    config = load_config(
        path=os.devnull, environ={}, overrides={"database": {"url": url}, "server": {"log_level": "WARNING"}}
    )
    wsgi.init_database(config)
    dbm.db.initialize(dbm.make_database(config))
    from conversations.models import Attendee, Room
    from ocs.accounts.models import User

    hashed = Passwords(config).hash("benchpw")
    rng = random.Random(20261130)
    now = int(time.time())
    users = [f"u{n}" for n in SIZES] + [f"m{i}" for i in range(300)]
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
    counter = 0
    pairs = set()
    for size in SIZES:
        owner = f"u{size}"
        with dbm.write_tx():
            for _ in range(size):
                counter += 1
                kind = rng.choice(("one", "group", "public", "password", "lobby", "readonly"))
                others = rng.sample(range(300), 3)
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
                    name="" if room_type == 1 else f"Room {counter}",
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
    dbm.discard_connections()


def start(app: str, env: dict, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/status.php", timeout=2).read()  # noqa: S310 - loopback only
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def wrk(url: str, auth: str, duration: int, connections: int, workdir: Path) -> dict:
    script = workdir / "headers.lua"
    script.write_text(LUA.format(auth=auth))
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout

    def latency(label):
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per point; the median is reported")
    parser.add_argument("--concurrency", default="1,16", help="wrk connection counts, comma-separated")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    import base64

    workdir = Path(tempfile.mkdtemp(prefix="ocs-talk-bench-"))
    url = f"sqlite:///{workdir}/bench.db"
    started = time.monotonic()
    seed(url)
    print(f"seeded 11,110 conversations in {time.monotonic() - started:.1f}s ({url})")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALK_")}
    env.update({"TALK_DATABASE__URL": url, "TALK_SERVER__LOG_LEVEL": "WARNING"})
    talk, base = start("wsgi:create_app()", env, args.workers, args.threads)
    cases = {}
    bodies = {}
    for size in SIZES:
        auth = "Basic " + base64.b64encode(f"u{size}:benchpw".encode()).decode()
        request = urllib.request.Request(
            base + ROOM_PATH,
            headers={"OCS-APIRequest": "true", "Accept": "application/json", "Authorization": auth},
        )
        body = urllib.request.urlopen(request, timeout=60).read()  # noqa: S310 - loopback only
        assert len(json.loads(body)["ocs"]["data"]) == size
        bodies[size] = len(body)
        cases[size] = (base + ROOM_PATH, auth)
    (workdir / "body.json").write_bytes(
        urllib.request.urlopen(  # noqa: S310 - loopback only
            urllib.request.Request(
                base + ROOM_PATH,
                headers={
                    "OCS-APIRequest": "true",
                    "Accept": "application/json",
                    "Authorization": cases[10][1],
                },
            )
        ).read()
    )
    bare_env = dict(env, BENCH_BODY_FILE=str(workdir / "body.json"), PYTHONPATH=str(ROOT / "bench"))
    bare, bare_url = start("bare_app:create_app()", bare_env, args.workers, args.threads)
    cases["bare"] = (bare_url + "/", "x")
    levels = [int(c) for c in args.concurrency.split(",")]
    runs: dict = {(key, c): [] for key in cases for c in levels}
    ratios: dict = {c: [] for c in levels}
    try:
        for target, auth in cases.values():  # warm up: credential caches, connections
            wrk(target, auth, 2, max(levels), workdir)
        # Rounds interleave every case so that drift in machine speed hits all of them alike;
        # the ratio is taken within each round.
        for _ in range(args.runs):
            for c in levels:
                for key, (target, auth) in cases.items():
                    runs[(key, c)].append(wrk(target, auth, args.duration, c, workdir))
                ratios[c].append(runs[(10, c)][-1]["rps"] / runs[("bare", c)][-1]["rps"])
    finally:
        for proc in (talk, bare):
            proc.terminate()
            proc.wait(30)
    med = {
        key: {m: statistics.median(r[m] for r in results) for m in results[0]}
        for key, results in runs.items()
    }
    print(
        f"\ngunicorn gthread -w {args.workers} --threads {args.threads}, wrk -t2 -d{args.duration}s, "
        f"median of {args.runs} interleaved rounds, SQLite WAL"
    )
    print(f"{'case':<26}{'conns':>6}{'bytes':>10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for c in levels:
        rows = [("bare Falcon (L1)", bodies[10], med[("bare", c)])] + [
            (f"GET /room, {size} rooms", bodies[size], med[(size, c)]) for size in SIZES
        ]
        for label, size_bytes, r in rows:
            print(
                f"{label:<26}{c:>6}{size_bytes:>10}{r['rps']:>10.1f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['errors']:>8.0f}"
            )
    for c in levels:
        per_round = ", ".join(f"{x:.2f}" for x in ratios[c])
        print(
            f"ratio to bare app at 10 conversations, {c} connection(s): {statistics.median(ratios[c]):.2f} "
            f"(target >= 0.30; rounds: {per_round})"
        )
        growth = med[(100, c)]["rps"] / med[(1000, c)]["rps"]
        print(
            f"time growth from 100 to 1,000 conversations, {c} connection(s): {growth:.1f}x (target <= 12x)"
        )
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
