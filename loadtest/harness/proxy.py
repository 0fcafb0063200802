"""HAProxy in front of one shop on loopback, refusing past a bound before the shop sees a request.

The shop's own gate answers a refusal only once its event loop reaches the request, which past
capacity is the slowest part of the answer (decision 0049). Per route class (the group-committed
writes apart from the rest), HAProxy holds at most `maxconn` requests in flight at the shop and
lets at most `queue` more wait, each no longer than `timeout_ms`; the next arrival is answered
at once, in C, with the shop's own `OVERLOADED` problem (decision 0058). What the shop never
sheds passes unbounded, and one request in LOG_SAMPLE is logged with HAProxy's own timers.
The problem's fields are those of `Overloaded` in `service/shop/api/framework/http_errors.py`,
so clients cannot tell the proxy's refusal from the shop's.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from loadtest.harness.ports import free_port
from loadtest.harness.processes import die_with_parent, stop
from loadtest.harness.shop import answers
from loadtest.harness.system import install
from loadtest.harness.waiting import wait_until

READY_WITHIN = 10.0
# HAProxy's log line per sampled request: status, ms waiting in the queue for a slot at the shop
# (-1: never queued), ms the shop took to answer (-1: no answer from it), ms from the request's
# first byte to its answer's last (HAProxy's timers %Tw, %Tr and %Ta), and the path.
LOG_FORMAT = "timing %ST %Tw %Tr %Ta %HP"
LOG_SAMPLE = 10
_TIMING = re.compile(r"^timing (\d+) (-?\d+) (-?\d+) (-?\d+) (\S+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Bounds:
    """How much the proxy lets through: requests in flight at the shop, requests waiting at the
    proxy for one of those slots, and how long one may wait."""

    maxconn: int
    queue: int
    timeout_ms: int

    def __post_init__(self) -> None:
        # The refusal rule is "queue already holds `queue`": 0 would refuse every request.
        if self.maxconn < 1 or self.queue < 1 or self.timeout_ms < 1:
            raise ValueError(f"bounds must be positive: {self}")


def overloaded(detail: str) -> str:
    """The shop's `OVERLOADED` problem+json as an HAProxy log-format string (`lf-string`)."""
    return (
        '{"type":"https://shop.example/problems/overloaded",'
        '"title":"Over capacity: retry after the given seconds","status":503,'
        f'"detail":"{detail}","code":"OVERLOADED","message":"{detail}",'
        '"timestamp":"%[date,utime(%Y-%m-%dT%H:%M:%S+00:00)]","instance":"%[path,json(utf8s)]"}'
    )


def _answer(detail: str) -> str:
    return (
        "status 503 content-type application/problem+json hdr Retry-After 1"
        f" lf-string '{overloaded(detail)}'"
    )


@dataclass(frozen=True, slots=True)
class Classes:
    """Bounds per route class: the group-committed writes (coupon issues and orders, whose
    batches need company in flight: decisions 0035 and 0049) and every other request (a charge
    holds a database connection for its whole answer, and more of them in flight only queue)."""

    other: Bounds
    batched: Bounds


# The group-committed writes, as HAProxy matches them (with METH_POST), and what the shop never
# sheds (decision 0041), neither bounded nor refused; the compose stack's load balancer routes
# by the same lines (deploy/haproxy/haproxy.cfg).
BATCHED = ("acl batched path_reg ^/api/coupons/[^/]+/issue$", "acl batched path /api/orders")
NEVER_SHED = (
    "acl never_shed path /healthz /readyz /metrics /api/openapi.json",
    "acl never_shed path_beg /api/admin/",
)


def _backend(name: str, bounds: Bounds, server: str) -> str:
    """A bounded backend: refused at once when `bounds.queue` already wait, refused after
    `bounds.timeout_ms` of waiting, both with the shop's OVERLOADED problem."""
    full = f"the shop is over capacity (proxy queue of {bounds.queue} full); retry later"
    late = f"the shop is over capacity (waited {bounds.timeout_ms} ms at the proxy); retry later"
    return "\n".join(
        (
            f"backend {name}",
            f"    http-request return {_answer(full)} if {{ queue ge {bounds.queue} }}",
            f"    timeout queue {bounds.timeout_ms}ms",
            f"    http-error {_answer(late)}",
            f"    server {server} maxconn {bounds.maxconn}",
        )
    )


def config(shop_url: str, port: int, classes: Classes) -> str:
    """An haproxy.cfg serving 127.0.0.1:`port` in front of the shop at `shop_url`."""
    shop = urlsplit(shop_url)
    server = f"shop {shop.hostname}:{shop.port}"
    acls = "\n".join(f"    {line}" for line in (*NEVER_SHED, *BATCHED))
    return f"""\
# Written by loadtest/harness/proxy.py for one run; see its docstring.
global
    # One thread: on a machine shared with the shop and the load generator, a second one would
    # only take turns with them for a core.
    nbthread 1
    # Room for the load generator's 1000 connections and the shop's side of each (two file
    # descriptors a connection, within this machine's limit of 20,000).
    maxconn 4096
    # One request in {LOG_SAMPLE} logged with HAProxy's own timers (`timings` reads them): what
    # a refusal or an answer took inside the proxy, apart from the client's side of it.
    log stdout format raw sample 1:{LOG_SAMPLE} local0

defaults
    mode http
    log global
    log-format "{LOG_FORMAT}"
    timeout connect 1s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout client 30s
    timeout server 30s

frontend shop
    bind 127.0.0.1:{port}
{acls}
    use_backend ops if never_shed
    use_backend batched if batched METH_POST
    default_backend shop

backend ops
    server {server}

{_backend("shop", classes.other, server)}

{_backend("batched", classes.batched, server)}
"""


def ensure_installed() -> None:
    """The haproxy binary (Debian's package) on PATH, installed when missing."""
    if shutil.which("haproxy") is None:
        install("haproxy", what="proxy")


@dataclass(frozen=True, slots=True)
class Timing:
    """One sampled request as HAProxy timed it (ms; -1 where the step did not happen)."""

    status: int
    queued_ms: int
    server_ms: int
    total_ms: int
    path: str


@dataclass(frozen=True, slots=True)
class Proxy:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_offset(self) -> int:
        """Where the log ends now: `timings(since=...)` reads what came after."""
        return self.log.stat().st_size

    def timings(self, since: int = 0) -> list[Timing]:
        """The sampled requests logged after offset `since` (one in LOG_SAMPLE)."""
        with self.log.open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        return [
            Timing(int(status), int(queued), int(server), int(total), path)
            for status, queued, server, total, path in _TIMING.findall(text)
        ]


@contextmanager
def fronting(shop_url: str, classes: Classes, *, work: Path) -> Iterator[Proxy]:
    """HAProxy on a free loopback port in front of `shop_url` for the block, answering (its
    config and output in `work`)."""
    ensure_installed()
    port = free_port()
    path = work / f"haproxy-{port}.cfg"
    path.write_text(config(shop_url, port, classes))
    logged = work / f"haproxy-{port}.log"
    with logged.open("ab") as log:
        process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(path)],  # -db: in the foreground, a child of ours
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    proxy = Proxy(f"http://127.0.0.1:{port}", process, logged)
    try:
        wait_until(
            lambda: answers(proxy.url, "/healthz"),
            within=READY_WITHIN,
            what=f"haproxy on {proxy.url}; its config: {path}",
            process=process,
        )
        yield proxy
    finally:
        stop(process, how=signal.SIGTERM)  # SIGTERM: HAProxy's immediate stop
