"""Child processes: started so they die with us, stopped in order, and their CPU and memory
read from /proc (Linux)."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

_PR_SET_PDEATHSIG = 1
T = TypeVar("T")


def die_with_parent() -> None:
    """In a child before exec: the kernel kills it when this process dies, however it dies (a
    killed test run or tool must not leave servers behind)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def stop(*processes: subprocess.Popen[Any], timeout: float = 15, how: int = signal.SIGINT) -> None:
    """Ask the processes to stop, all at once and once only (SIGINT: the shop's and locust's
    graceful path; a second one would cut it short), and kill any that has not within
    `timeout` seconds."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(how)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Processes:
    """What a tool started, stopped in reverse order at the end."""

    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(list(args), preexec_fn=die_with_parent, **kwargs)
        self.started.append(proc)
        return proc

    def stop(self, timeout: float = 20) -> None:
        stop(*reversed(self.started), timeout=timeout)


def tree(pid: int) -> list[int]:
    """The process and its descendants (the workers `shop serve` starts); empty when gone."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [pid, *(p for child in children for p in tree(int(child)))]


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and its descendants (0 for any already gone)."""
    total = 0.0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_mib(pid: int) -> float:
    """The largest resident set among the process and its descendants, in MiB."""
    sizes = [0]
    for p in tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        sizes += [int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:"]
    return max(sizes) / 1024


def _busy_and_total(line: str) -> tuple[float, float]:
    values = [int(v) for v in line.split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


def machine_jiffies() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot: two readings give its CPU share."""
    return _busy_and_total(Path("/proc/stat").read_text().split("\n", 1)[0])


def cpu_jiffies() -> dict[int, tuple[float, float]]:
    """(busy, total) jiffies of each CPU since boot, by its number."""
    lines = Path("/proc/stat").read_text().splitlines()
    return {
        int(line.split()[0][3:]): _busy_and_total(line)
        for line in lines
        if line.startswith("cpu") and line[3].isdigit()
    }


CpuSample = tuple[float, dict[int, tuple[float, float]]]


@contextmanager
def sampling(read: Callable[[], T], every: float, *, ends: bool = False) -> Iterator[list[T]]:
    """`read()` every `every` seconds on a thread of its own while the block runs (and at its
    start and end too with `ends`); the readings fill the list it gives."""
    readings: list[T] = [read()] if ends else []
    done = threading.Event()

    def loop() -> None:
        while not done.wait(every):
            readings.append(read())

    thread = threading.Thread(target=loop, name=f"sampling-{read.__name__}", daemon=True)
    thread.start()
    try:
        yield readings
    finally:
        done.set()
        thread.join()
        if ends:
            readings.append(read())


def cpu_sample() -> CpuSample:
    """Now, and each CPU's jiffies (`cpu_jiffies`): a window of them gives `busy_between`."""
    return time.time(), cpu_jiffies()


def busy_between(samples: list[CpuSample], begin: float, end: float) -> list[float]:
    """Each CPU's busy share from `begin` to `end` (epoch seconds), from the samples nearest
    outside that window."""
    first = max((s for s in samples if s[0] <= begin), key=lambda s: s[0], default=samples[0])
    last = min((s for s in samples if s[0] >= end), key=lambda s: s[0], default=samples[-1])
    return [
        (last[1][cpu][0] - b0) / (last[1][cpu][1] - t0) if last[1][cpu][1] > t0 else 0.0
        for cpu, (b0, t0) in sorted(first[1].items())
    ]
