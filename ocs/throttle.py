"""Brute-force throttling with Nextcloud's algorithm, shared by all workers via the database.

Attempts are counted per subnet and action over 12 hours; the delay is 0.1 s x 2^attempts
capped at 25 s; more than ``max_attempts`` in 30 minutes at maximum delay answers 429.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import threading
import time

import peewee

from ocs import db as dbm
from ocs.db import BaseModel, write_tx
from ocs.errors import TooManyRequests

log = logging.getLogger("ocs.throttle")

MAX_DELAY_MS = 25000
WINDOW_S = 12 * 3600
BLOCK_WINDOW_S = 1800
PURGE_AFTER_S = 48 * 3600
REQUEST_SLEEP_BUDGET_S = 25.0

# Actions
LOGIN = "login"
ROOM_TOKEN = "talkRoomToken"  # noqa: S105 - an action name, not a secret
ROOM_PASSWORD = "talkRoomPassword"  # noqa: S105 - an action name
SUDO = "sudo"


class BruteforceAttempt(BaseModel):
    id = peewee.AutoField()
    action = peewee.CharField(max_length=64)
    occurred = peewee.BigIntegerField()
    ip = peewee.CharField(max_length=64)
    subnet = peewee.CharField(max_length=64)
    metadata = peewee.TextField()

    class Meta:
        table_name = "bruteforce_attempts"


def subnet_of(address: str, ipv6_prefix: int = 64) -> str:
    """Nextcloud's ``IpAddress::getSubnet``: IPv4 /32, IPv6 /``ipv6_prefix`` (compressed)."""
    text = address.strip().strip("[]").split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        return f"{ip}/32"
    network = ipaddress.IPv6Network(f"{ip}/{ipv6_prefix}", strict=False)
    return f"{network.network_address.compressed}/{ipv6_prefix}"


def _metadata(value: dict) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class Client:
    """Where a request comes from, as the throttle sees it, plus its per-request sleep budget.

    The subnet and the bypass check are computed on first use: most requests never touch the
    throttle, and address parsing is not free."""

    __slots__ = ("ip", "slept", "_throttler", "_subnet", "_bypass")

    def __init__(self, ip: str, throttler: Throttler):
        self.ip = ip
        self.slept = 0.0
        self._throttler = throttler
        self._subnet = None
        self._bypass = None

    @property
    def subnet(self) -> str:
        if self._subnet is None:
            self._subnet = subnet_of(self.ip, self._throttler.ipv6_prefix)
        return self._subnet

    @property
    def bypass(self) -> bool:
        if self._bypass is None:
            self._bypass = self._throttler.bypassed(self.ip)
        return self._bypass


class DelayGate:
    """Who may sleep a throttle delay in this process: one request per subnet, and at most
    ``limit`` requests in all. A sleeping request holds a server thread; without this gate one
    address sending concurrent bad logins could put every thread to sleep (issue: a different
    client's ``/status.php`` waited 49 s)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._subnets: set[str] = set()

    def enter(self, subnet: str) -> bool:
        with self._lock:
            if len(self._subnets) >= self.limit or subnet in self._subnets:
                return False
            self._subnets.add(subnet)
            return True

    def leave(self, subnet: str) -> None:
        with self._lock:
            self._subnets.discard(subnet)


class Throttler:
    """Pre-check, register and reset attempts (``security.md`` §2)."""

    def __init__(self, config, clock=time.time, sleep=time.sleep):
        section = config["throttle"]
        self.enabled = section["enabled"]
        self.testing = section["testing"]
        self.max_attempts = section["max_attempts"]
        self.ipv6_prefix = section["ipv6_subnet_size"]
        self.bypass = [ipaddress.ip_network(c, strict=False) for c in section["bypass"]]
        self.clock = clock
        self.sleep = sleep
        self.gate = DelayGate(section["max_delayed_requests"])
        self._last_purge = 0.0

    def client(self, ip: str) -> Client:
        return Client(ip, self)

    def bypassed(self, ip: str) -> bool:
        """Whether ``ip`` is in ``throttle.bypass`` (never throttled, never recorded)."""
        if not self.bypass:
            return False
        try:
            address = ipaddress.ip_address(ip.strip("[]").split("%", 1)[0])
        except ValueError:
            return False
        return any(address in net for net in self.bypass)

    def _active(self, client: Client) -> bool:
        return self.enabled and not client.bypass

    def counts(self, subnet: str, action: str) -> tuple[int, int]:
        """Attempts in the last 12 hours and in the last 30 minutes, in one statement."""
        now = int(self.clock())
        recent = peewee.fn.SUM(peewee.Case(None, [(BruteforceAttempt.occurred > now - BLOCK_WINDOW_S, 1)], 0))
        row = (
            BruteforceAttempt.select(peewee.fn.COUNT(BruteforceAttempt.id), recent)
            .where(
                (BruteforceAttempt.subnet == subnet)
                & (BruteforceAttempt.action == action)
                & (BruteforceAttempt.occurred > now - WINDOW_S)
            )
            .tuples()
            .get()
        )
        return int(row[0] or 0), int(row[1] or 0)

    def delay_ms(self, attempts: int) -> int:
        if attempts == 0:
            return 0
        if attempts > self.max_attempts:
            return MAX_DELAY_MS
        return min(MAX_DELAY_MS, math.ceil(100 * 2**attempts))

    def precheck(self, client: Client, action: str) -> int:
        """Sleep the current delay, or raise 429 when the subnet is blocked for ``action``.

        Returns the number of attempts counted (0 means a reset would have nothing to delete).
        """
        if not self._active(client):
            return 0
        total, recent = self.counts(client.subnet, action)
        delay = self.delay_ms(total)
        if delay >= MAX_DELAY_MS and recent > self.max_attempts:
            log.warning("throttle: %s blocked for %s", client.subnet, action)
            raise TooManyRequests()
        if delay and not self.testing:
            seconds = min(delay / 1000.0, REQUEST_SLEEP_BUDGET_S - client.slept)
            if seconds > 0:
                self._sleep(client, action, seconds)
        return total

    def _sleep(self, client: Client, action: str, seconds: float) -> None:
        """Sleep the delay if the gate lets this request; otherwise answer 429 at once."""
        if not self.gate.enter(client.subnet):
            log.warning(
                "throttle: %s refused for %s (a delayed request is already waiting)", client.subnet, action
            )
            raise TooManyRequests()
        try:
            dbm.release_connection()  # never hold a pooled connection while sleeping
            client.slept += seconds
            self.sleep(seconds)
        finally:
            self.gate.leave(client.subnet)

    def register(self, client: Client, action: str, metadata: dict) -> None:
        """Record a failed attempt, then apply the delay or 429 it now earns."""
        if not self._active(client):
            return
        now = int(self.clock())
        with write_tx():
            BruteforceAttempt.create(
                action=action, occurred=now, ip=client.ip, subnet=client.subnet, metadata=_metadata(metadata)
            )
            if now - self._last_purge > 60:
                self._last_purge = now
                BruteforceAttempt.delete().where(BruteforceAttempt.occurred < now - PURGE_AFTER_S).execute()
        log.info("throttle: attempt %s registered for %s", action, client.subnet)
        self.precheck(client, action)

    def reset(self, client: Client, action: str, metadata: dict) -> None:
        """Forget the subnet's attempts for ``action`` with exactly this metadata."""
        if not self._active(client):
            return
        with write_tx():
            BruteforceAttempt.delete().where(
                (BruteforceAttempt.subnet == client.subnet)
                & (BruteforceAttempt.action == action)
                & (BruteforceAttempt.metadata == _metadata(metadata))
            ).execute()
