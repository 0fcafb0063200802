"""HAProxy in front of one shop on loopback, refusing past a bound before the shop sees a request.

The shop's own gate answers a refusal only once its event loop reaches the request, which past
capacity is the slowest part of the answer (decision 0049). HAProxy holds at most `maxconn`
requests in flight at the shop and lets at most `queue` more wait, each no longer than
`timeout_ms`; the next arrival is answered at once, in C, with the shop's own `OVERLOADED`
problem (decision 0058). The problem's fields are those of `Overloaded` in
`service/shop/api/framework/http_errors.py`, so clients cannot tell the proxy's refusal from the
shop's.
"""

from __future__ import annotations

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


def config(shop_url: str, port: int, bounds: Bounds) -> str:
    """An haproxy.cfg serving 127.0.0.1:`port` in front of the shop at `shop_url`."""
    shop = urlsplit(shop_url)
    full = f"the shop is over capacity (proxy queue of {bounds.queue} full); retry later"
    late = f"the shop is over capacity (waited {bounds.timeout_ms} ms at the proxy); retry later"
    return f"""\
# Written by loadtest/harness/proxy.py for one run; see its docstring.
global
    # One thread: on a machine shared with the shop and the load generator, a second one would
    # only take turns with them for a core.
    nbthread 1
    # Room for the load generator's 1000 connections and the shop's side of each (two file
    # descriptors a connection, within this machine's limit of 20,000).
    maxconn 4096

defaults
    mode http
    timeout connect 1s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout client 30s
    timeout server 30s
    # A request that found the queue not yet full still waits no longer than this for a slot;
    # then HAProxy's own 503, rendered below as the same problem.
    timeout queue {bounds.timeout_ms}ms

frontend shop
    bind 127.0.0.1:{port}
    http-request return {_answer(full)} if {{ queue(shop) ge {bounds.queue} }}
    default_backend shop

backend shop
    http-error {_answer(late)}
    server shop {shop.hostname}:{shop.port} maxconn {bounds.maxconn}
"""


def ensure_installed() -> None:
    """The haproxy binary (Debian's package) on PATH, installed when missing."""
    if shutil.which("haproxy") is None:
        install("haproxy", what="proxy")


@dataclass(frozen=True, slots=True)
class Proxy:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def fronting(shop_url: str, bounds: Bounds, *, work: Path) -> Iterator[Proxy]:
    """HAProxy on a free loopback port in front of `shop_url` for the block, answering (its
    config and output in `work`)."""
    ensure_installed()
    port = free_port()
    path = work / f"haproxy-{port}.cfg"
    path.write_text(config(shop_url, port, bounds))
    with (work / f"haproxy-{port}.log").open("ab") as log:
        process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(path)],  # -db: in the foreground, a child of ours
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    proxy = Proxy(f"http://127.0.0.1:{port}", process)
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
