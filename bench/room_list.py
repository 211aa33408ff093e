"""Benchmark: ``GET /room`` at 10, 58 and 1,000 conversations against a bare Falcon app.

Usage (from the repository root; wrk must be installed: ``apt-get install wrk``)::

    python bench/room_list.py [--duration 2] [--rounds 9] [--database URL] [--plot PATH]

1. Seeds users ``u10``, ``u58`` and ``u1000`` (``bench/seed.py``): rooms of every kind with 1–3
   other members, three messages each with mentions, a reply and reactions.
2. Starts ocs-talk with the README's start command and a bare Falcon app (``bench/bare_app.py``)
   with the same gunicorn settings, serving ocs-talk's own answers byte for byte: once with
   ocs-talk's headers and body ("bare"), once with the body alone ("bare body").
3. In interleaved rounds (the order turned every round), runs wrk (4 connections) against all
   three for ``GET /room`` (v4, JSON, HTTP Basic), ``GET /cloud/capabilities`` and
   ``GET /status.php``; the ratios are taken per round and their medians reported.
4. Reads each worker's resident memory once 10,000 requests at 1,000 conversations were served.
5. Starts a second ocs-talk instance on the same database and reports the combined throughput of
   both instances against one (58 conversations).
6. Writes a JSON summary and, with matplotlib installed, a plot (``--plot``).

``--database`` takes a PostgreSQL URL (the database is emptied first); the default is a fresh
SQLite file. ``BENCH_SERVE`` replaces the gunicorn options; ``BENCH_PYTHON`` names the Python of
the installation that serves (e.g. one made with the README's SQLite command, which has no
PostgreSQL driver). Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import SERVE, start, worker_rss, wrk  # noqa: E402
from seed import PASSWORD, seed  # noqa: E402

SIZES = (10, 58, 1000)
ROOM_PATH = "/ocs/v2.php/apps/spreed/api/v4/room"
CAPABILITIES_PATH = "/ocs/v2.php/cloud/capabilities"
TARGETS = {
    "room 10": 0.5,
    "room 58": 0.3,
    "room 1000": 0.3,
    "capabilities": 0.8,  # authenticated: HTTP Basic, credentials checked against the database
    "capabilities anon": 0.8,  # what clients fetch before logging in
    "status.php": 0.8,
}
MEMORY_REQUESTS = 10_000
MEMORY_TARGET_MB = 60


def auth(uid: str) -> str:
    return "Basic " + base64.b64encode(f"{uid}:{PASSWORD}".encode()).decode()


# what gunicorn and Falcon write themselves (the bare app gets the rest of ocs-talk's headers)
SERVER_HEADERS = {"server", "date", "connection", "content-length", "content-type", "transfer-encoding"}


def fetch(port: int, path: str, authorization: str) -> tuple[str, bytes, list]:
    """ocs-talk's answer: content type, body and the other headers it sent."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"OCS-APIRequest": "true", "Accept": "application/json", "Authorization": authorization},
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback only
        headers = [[k, v] for k, v in response.headers.items() if k.lower() not in SERVER_HEADERS]
        return response.headers["Content-Type"], response.read(), headers


def plot(results: dict, path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)", file=sys.stderr)
        return False
    cases = list(TARGETS)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    talk = [results["cases"][c]["talk_rps"] for c in cases]
    bare = [results["cases"][c]["bare_rps"] for c in cases]
    bare_body = [results["cases"][c]["bare_body_rps"] for c in cases]
    xs = range(len(cases))
    left.bar([x - 0.27 for x in xs], bare_body, width=0.27, label="bare, same body", color="#dddddd")
    left.bar(list(xs), bare, width=0.27, label="bare, same headers and body", color="#999999")
    left.bar([x + 0.27 for x in xs], talk, width=0.27, label="ocs-talk", color="#0082c9")
    left.set_yscale("log")
    left.set_xticks(list(xs), cases, rotation=20)
    left.set_ylabel("requests/s (log scale)")
    left.set_title("Throughput, 4 connections")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3, frameon=False, fontsize=8)
    ratios = [results["cases"][c]["ratio"] for c in cases]
    ratios_body = [results["cases"][c]["ratio_body"] for c in cases]
    right.bar([x - 0.2 for x in xs], ratios_body, width=0.4, color="#9cc9e6", label="to the same body")
    right.bar([x + 0.2 for x in xs], ratios, width=0.4, color="#0082c9", label="to the same headers and body")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False, fontsize=8)
    for x, case in zip(xs, cases, strict=True):
        right.hlines(TARGETS[case], x - 0.4, x + 0.4, colors="#d0342c", linestyles="dashed")
    right.set_xticks(list(xs), cases, rotation=20)
    right.set_ylim(0, 1.05)
    right.set_ylabel("ocs-talk / bare (dashed: target)")
    right.set_title("Ratio to the bare app")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="", help="PostgreSQL URL (emptied first); default SQLite")
    parser.add_argument("--duration", type=int, default=2, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--plot", default="", help="write a PNG plot here")
    parser.add_argument("--json", default="", help="write the results as JSON here")
    parser.add_argument("--only", default="", help="comma-separated cases to run (e.g. 'room 10')")
    parser.add_argument("--skip-multi", action="store_true")
    parser.add_argument("--memory-requests", type=int, default=MEMORY_REQUESTS)
    parser.add_argument("--sqlite-file", default="", help="reuse this seeded SQLite file (seeded if missing)")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="ocs-talk-room-bench-"))
    url = args.database or f"sqlite:///{args.sqlite_file or workdir / 'bench.db'}"
    if url.startswith("postgres"):
        from tests.conftest import reset_postgres

        reset_postgres(url)
    started = time.monotonic()
    if not (args.sqlite_file and Path(args.sqlite_file).exists()):
        seed(url, SIZES)
    kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"seeded {sum(SIZES)} conversations with chat in {time.monotonic() - started:.0f}s ({kind})")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALK_")}
    env.update({"TALK_DATABASE__URL": url, "TALK_SERVER__LOG_LEVEL": "WARNING"})
    talk, port = start("wsgi:create_app()", env)
    procs = [talk]
    try:
        cases = {f"room {n}": (ROOM_PATH, auth(f"u{n}")) for n in SIZES}
        cases["capabilities"] = (CAPABILITIES_PATH, auth("u10"))
        cases["capabilities anon"] = (CAPABILITIES_PATH, "")
        cases["status.php"] = ("/status.php", "")
        if args.only:
            cases = {k: v for k, v in cases.items() if k in args.only.split(",")}
        manifest, sizes = {}, {}
        for name, (path, authorization) in cases.items():
            content_type, body, headers = fetch(port, path, authorization)
            file = workdir / f"body-{len(manifest)}"
            file.write_bytes(body)
            # the bare app tells the cases apart by path
            manifest[f"/{len(manifest)}{path}"] = [content_type, str(file), headers]
            sizes[name] = len(body)
        (workdir / "bodies.json").write_text(json.dumps(manifest))
        bare, bare_port = start(
            "bare_app:create_app()",
            dict(env, BENCH_BODIES=str(workdir / "bodies.json"), PYTHONPATH=str(ROOT / "bench")),
        )
        procs.append(bare)
        targets = {}
        for index, (name, (path, authorization)) in enumerate(cases.items()):
            targets[name] = (
                (f"http://127.0.0.1:{port}{path}", authorization),
                (f"http://127.0.0.1:{bare_port}/full/{index}{path}", authorization),
                (f"http://127.0.0.1:{bare_port}/body/{index}{path}", authorization),
            )
        served_1000 = 0
        for name, (talk_case, bare_case, body_case) in targets.items():  # warm up
            result = wrk(*talk_case, 2, args.connections, workdir)
            wrk(*bare_case, 1, args.connections, workdir)
            wrk(*body_case, 1, args.connections, workdir)
            if name == "room 1000":
                served_1000 += result["requests"]
        apps = ("talk", "bare", "body")  # ocs-talk; bare with its headers and body; body alone
        runs = {name: {app: [] for app in apps} for name in targets}
        for index in range(args.rounds):
            for name, urls in targets.items():
                # short runs, many rounds, the order turned every round: a burst of load from
                # elsewhere on the machine then spoils one ratio, not the median
                order = apps if index % 2 == 0 else apps[::-1]
                measured = {
                    app: wrk(*urls[apps.index(app)], args.duration, args.connections, workdir)
                    for app in order
                }
                if any(run["errors"] for run in measured.values()):
                    raise RuntimeError(f"{name}: non-2xx answers during the run")
                for app in apps:
                    runs[name][app].append(measured[app])
                if name == "room 1000":
                    served_1000 += measured["talk"]["requests"]
        results = {"database": kind, "serve": " ".join(SERVE), "connections": args.connections, "cases": {}}
        for name, run in runs.items():
            ratios = [t["rps"] / b["rps"] for t, b in zip(run["talk"], run["bare"], strict=True)]
            ratios_body = [t["rps"] / b["rps"] for t, b in zip(run["talk"], run["body"], strict=True)]
            results["cases"][name] = {
                "bytes": sizes[name],
                "talk_rps": statistics.median(r["rps"] for r in run["talk"]),
                "talk_p99_ms": statistics.median(r["p99"] for r in run["talk"]),
                "bare_rps": statistics.median(r["rps"] for r in run["bare"]),
                "bare_body_rps": statistics.median(r["rps"] for r in run["body"]),
                "ratio": statistics.median(ratios),
                "ratio_body": statistics.median(ratios_body),
                "rounds": [round(x, 3) for x in ratios],
                "rounds_body": [round(x, 3) for x in ratios_body],
                "target": TARGETS[name],
            }
        if "room 1000" in targets:
            while served_1000 < args.memory_requests:
                served_1000 += wrk(*targets["room 1000"][0], 3, args.connections, workdir)["requests"]
            results["memory"] = {"requests_at_1000": served_1000, "worker_rss_mb": worker_rss(talk)}
        if not args.skip_multi and "room 58" in targets:
            second, second_port = start("wsgi:create_app()", env)
            procs.append(second)
            path, authorization = cases["room 58"]
            one = f"http://127.0.0.1:{port}{path}"
            two = f"http://127.0.0.1:{second_port}{path}"
            wrk(two, authorization, 2, args.connections, workdir)
            seconds = max(args.duration, 5)
            single = wrk(one, authorization, seconds, args.connections, workdir)["rps"]
            both = [
                subprocess.Popen(  # noqa: S603 - wrk on loopback
                    [
                        sys.executable,
                        "-c",
                        MULTI,
                        target,
                        authorization,
                        str(seconds),
                        str(args.connections),
                        str(workdir),
                    ],
                    stdout=subprocess.PIPE,
                    cwd=ROOT / "bench",
                    text=True,
                )
                for target in (one, two)
            ]
            combined = [float(p.communicate(timeout=seconds + 60)[0]) for p in both]
            results["multi_server"] = {"one_instance_rps": single, "two_instances_rps": combined}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if args.plot and len(results["cases"]) == len(TARGETS):
        title = f"GET /room and friends vs a bare Falcon app — {kind}, gunicorn {results['serve']}"
        if plot(results, Path(args.plot), title):
            print(f"plot written to {args.plot}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


MULTI = """
import sys
from pathlib import Path
from common import wrk
url, auth, duration, connections, workdir = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print(wrk(url, auth, duration, connections, Path(workdir), threads=1)["rps"])
"""


def report(results: dict) -> None:
    print(f"\n{results['database']}; gunicorn {results['serve']}; wrk, {results['connections']} connections")
    print("bare: a Falcon app answering with ocs-talk's headers and body; bare body: with its body only")
    print(
        f"{'case':<18}{'bytes':>10}{'ocs-talk':>10}{'bare':>8}{'ratio':>7}{'bare body':>11}{'ratio':>7}"
        f"{'target':>8}  rounds (to bare; to bare body)"
    )
    for name, case in results["cases"].items():
        print(
            f"{name:<18}{case['bytes']:>10}{case['talk_rps']:>10.0f}{case['bare_rps']:>8.0f}"
            f"{case['ratio']:>7.2f}{case['bare_body_rps']:>11.0f}{case['ratio_body']:>7.2f}"
            f"{'≥ ' + str(case['target']):>8}  {case['rounds']}; {case['rounds_body']}"
        )
    if "memory" in results:
        memory = results["memory"]
        sizes = ", ".join(f"{mb:.1f}" for mb in memory["worker_rss_mb"])
        print(
            f"worker RSS after {memory['requests_at_1000']} requests at 1,000 conversations: {sizes} MB"
            f" (target < {MEMORY_TARGET_MB} MB)"
        )
    if "multi_server" in results:
        multi = results["multi_server"]
        total = sum(multi["two_instances_rps"])
        print(
            f"room 58, one instance: {multi['one_instance_rps']:.0f} req/s; two instances on one database: "
            f"{total:.0f} req/s ({' + '.join(f'{x:.0f}' for x in multi['two_instances_rps'])})"
        )


if __name__ == "__main__":
    sys.exit(main())
