"""Cores of their own: the load generator and the proxy on some CPUs, the shop and its database
on the others, for a benchmark that must tell what the shop does from what the machine's sharing
does (decision 0058: on two shared cores a refusal waits for a core like everything else).

Linux CPU affinity: children inherit the mask of the thread that starts them, so the tool pins
itself before it starts the generator, and starts each shop under `taskset`. The database
server is already running; every thread of it is pinned for the run and given its old mask
back afterwards, the threads it started meanwhile included.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The local database server, by the names Debian's MariaDB and MySQL packages run it under.
DATABASE_SERVERS = ("mariadbd", "mysqld")


@dataclass(frozen=True, slots=True)
class Partition:
    """Which CPUs the tools (this process, its load generator, a proxy) run on, and which the
    servers (the shop, the database) do."""

    tools: frozenset[int]
    servers: frozenset[int]

    @classmethod
    def halves(cls) -> Partition:
        """The first half of this process's CPUs for the tools, the rest for the servers (the
        first for the tools, the second for the servers on a 2-core machine)."""
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("cores: one CPU cannot be partitioned")
        half = len(cpus) // 2
        return cls(frozenset(cpus[:half]), frozenset(cpus[half:]))

    def describe(self) -> dict[str, list[int]]:
        return {"tools": sorted(self.tools), "servers": sorted(self.servers)}


def on(cpus: frozenset[int]) -> list[str]:
    """A command prefix that runs a program on `cpus` only (for `shop.launch(prefix=...)`)."""
    return ["taskset", "--cpu-list", ",".join(map(str, sorted(cpus)))]


def database_pids() -> list[int]:
    """The pids of the local database server (empty when it runs elsewhere)."""
    found = subprocess.run(["pidof", *DATABASE_SERVERS], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def _threads(pid: int) -> list[int]:
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def _pin(pid: int, cpus: frozenset[int] | set[int]) -> None:
    """Every thread of `pid` on `cpus` (a thread that ended meanwhile is skipped)."""
    for tid in _threads(pid):
        try:
            os.sched_setaffinity(tid, cpus)
        except (ProcessLookupError, FileNotFoundError):
            continue


@contextmanager
def partitioned(partition: Partition, *, servers: list[int]) -> Iterator[None]:
    """This thread (and whatever it starts) on the tools' CPUs and the running `servers` (pids)
    on the servers' CPUs for the block; everything's old masks back afterwards."""
    mine = os.sched_getaffinity(0)
    theirs = {pid: os.sched_getaffinity(pid) for pid in servers if Path(f"/proc/{pid}").exists()}
    for pid in theirs:
        _pin(pid, partition.servers)
    os.sched_setaffinity(0, partition.tools)
    try:
        yield
    finally:
        os.sched_setaffinity(0, mine)
        for pid, cpus in theirs.items():
            _pin(pid, cpus)
