"""What the benchmarks share: free ports, starting gunicorn, wrk runs, worker memory."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The README's start command, minus the bind address.
SERVE = os.environ.get("BENCH_SERVE", "--worker-class gevent --workers 2 --worker-connections 2000").split()

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


def start(app: str, env: dict, serve: list[str] | None = None, workers: int | None = None, python: str = ""):
    """Start gunicorn serving ``app`` on a free loopback port; returns (process, port).
    ``python``: the interpreter of another installation (``BENCH_PYTHON``, default this one)."""
    port = free_port()
    args = list(serve or SERVE)
    if workers is not None:
        args[args.index("--workers") + 1] = str(workers)
    proc = subprocess.Popen(  # noqa: S603 - our own gunicorn
        [
            python or os.environ.get("BENCH_PYTHON") or sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{port}",
            *args,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/status.php", timeout=2).read()  # noqa: S310 - loopback
            return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def worker_rss(proc) -> list[float]:
    """Resident memory (MB) of each worker of the gunicorn master ``proc``."""
    out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False).stdout
    sizes = []
    for pid in out.split():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def wrk(
    url: str, auth: str, duration: float, connections: int, workdir: Path, threads: int | None = None
) -> dict:
    """One wrk run: requests/s, total requests, p50/p99 latency (ms) and non-2xx/3xx answers."""
    script = workdir / f"headers-{abs(hash(auth))}.lua"
    script.write_text(LUA.format(auth=auth))
    out = subprocess.run(  # noqa: S603 - wrk on loopback
        [
            "wrk",
            f"-t{threads or min(2, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
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
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": int(errors.group(1)) if errors else 0,
    }
