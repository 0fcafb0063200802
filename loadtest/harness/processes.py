"""Child processes: started so they die with us, stopped in order, and their CPU and memory
read from /proc (Linux)."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


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


def machine_jiffies() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot: two readings give its CPU share."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))
