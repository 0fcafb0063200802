"""Shop processes: one or N replicas on free ports (or given URLs), ready when /readyz says so.

A replica's log is a file of its own, kept for the reader. `replicas()` also judges the fleet
when it stops: every process exited with 0 (or was SIGKILLed on purpose) and no log holds an
`unhandled_error` line or a 5xx the caller did not declare (`allowed_5xx`). `python -m loadtest
replicas N` (make run-replicas) serves N replicas on consecutive ports until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from loadtest import ROOT
from loadtest.harness.ports import free_port
from loadtest.harness.processes import die_with_parent, stop
from loadtest.harness.waiting import wait_until

SERVE = ("-m", "shop", "serve")
READY_WITHIN = 60.0

# The process behind each running replica's URL, for tests that kill one (with SIGKILL, which
# the exit-code check expects).
RUNNING: dict[str, subprocess.Popen[bytes]] = {}


def answers(url: str, path: str = "/readyz", timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


@dataclass(frozen=True, slots=True)
class Replica:
    url: str
    process: subprocess.Popen[bytes]
    log: Path | None

    def wait_ready(self, within: float = READY_WITHIN) -> None:
        where = f"; its log: {self.log}" if self.log else ""
        wait_until(
            lambda: answers(self.url),
            within=within,
            what=f"the shop on {self.url}{where}",
            process=self.process,
        )


def launch(
    url: str,
    env: Mapping[str, str],
    *,
    log: Path | None = None,
    command: Sequence[str] = SERVE,
    prefix: Sequence[str] = (),
) -> Replica:
    """Start `python <command>` serving `url` (host and port from it) with `env` over ours;
    its output goes to `log` (appended), or nowhere. `prefix` runs it under another program
    (a profiler: `valgrind --tool=callgrind`)."""
    parts = urlsplit(url)
    with log.open("ab") if log else contextlib.nullcontext(subprocess.DEVNULL) as out:
        process = subprocess.Popen(
            [*prefix, sys.executable, *command],
            env={
                **os.environ,
                **env,
                "SHOP_HOST": parts.hostname or "127.0.0.1",
                "SHOP_PORT": str(parts.port),
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,  # where `-m loadtest...` servers (the benchmarks' floor) are found
            # Out of the terminal's process group: a Ctrl-C reaches the tool, which stops each
            # shop once (a second SIGINT would cut its graceful shutdown short).
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    return Replica(url, process, log)


@contextmanager
def serving(env: Mapping[str, str], *, log: Path | None = None) -> Iterator[Replica]:
    """One shop on a free port with `env` over ours, ready, for the block."""
    replica = launch(f"http://127.0.0.1:{free_port()}", env, log=log)
    try:
        replica.wait_ready()
        yield replica
    finally:
        stop(replica.process)


def problems(replica: Replica, allowed_5xx: frozenset[str]) -> list[str]:
    """What the replica's exit code and log say went wrong (empty when nothing did)."""
    found = []
    if replica.process.returncode not in (0, -signal.SIGKILL):
        found.append(f"{replica.url} exited with {replica.process.returncode}")
    lines = replica.log.read_text(errors="replace").splitlines() if replica.log else []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            if line.strip():
                found.append(f"{replica.url} wrote a line that is not JSON: {line}")
            continue
        event = entry.get("event")
        if event == "unhandled_error":
            found.append(f"{replica.url}: {line}")
        elif (
            event == "request"
            and int(entry.get("status", 0)) >= 500
            and entry.get("route") not in allowed_5xx
        ):
            found.append(f"{replica.url} answered {entry['status']}: {line}")
    return found


@contextmanager
def replicas(
    count: int,
    *,
    db_url: str,
    log_dir: Path,
    allowed_5xx: frozenset[str] = frozenset(),
    **env: str,
) -> Iterator[list[str]]:
    """`count` shop processes on free ports sharing `db_url` (and whatever Redis `env` names);
    yields their base URLs, then stops them and fails on what their exits and logs show."""
    started: list[Replica] = []
    settings = {
        "SHOP_DB_URL": db_url,
        # INFO: one line per request, which is how unexpected 5xx are found.
        "SHOP_LOG_LEVEL": "INFO",
        "SHOP_DB_POOL_MAX": "20",
        **env,
    }
    try:
        for n in range(count):
            port = free_port()
            log = log_dir / f"replica-{n}-{port}.log"
            log.write_bytes(b"")
            started.append(launch(f"http://127.0.0.1:{port}", settings, log=log))
            RUNNING[started[-1].url] = started[-1].process
        for replica in started:
            replica.wait_ready()
        yield [r.url for r in started]
    finally:
        for replica in started:
            RUNNING.pop(replica.url, None)
        stop(*(replica.process for replica in started))
    found = [p for replica in started for p in problems(replica, allowed_5xx)]
    if found:  # a test's failure, raised as such even under `python -O`
        raise AssertionError("\n".join(found))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="loadtest replicas",
        description="N shop processes on consecutive ports (SHOP_PORT, +1, ...) sharing MariaDB"
        " and Redis, with the Redis lock backend; Ctrl-C stops them all.",
    )
    parser.add_argument("count", type=int, nargs="?", default=3)
    args = parser.parse_args(argv)
    # Ctrl-C (SIGINT) stops the fleet even when it was started in the background of a script:
    # the shell then leaves SIGINT ignored, and Python installs no handler of its own for it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    base = int(os.environ.get("SHOP_PORT", "8081"))
    env = {
        "SHOP_REDIS_URL": os.environ.get("SHOP_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "SHOP_LOCK_BACKEND": os.environ.get("SHOP_LOCK_BACKEND", "redis"),
    }
    fleet = [launch(f"http://127.0.0.1:{base + n}", env) for n in range(args.count)]
    try:
        for n, replica in enumerate(fleet, 1):
            print(f"replica {n} on {replica.url} (pid {replica.process.pid})", flush=True)
        # Until one exits (or Ctrl-C): a fleet missing a replica is not what was asked for.
        pid, _ = os.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(*(replica.process for replica in fleet))
    [gone] = [r.url for r in fleet if r.process.pid == pid] or [f"pid {pid}"]
    print(f"replica {gone} exited on its own: the fleet is stopped", file=sys.stderr, flush=True)
    return 1
