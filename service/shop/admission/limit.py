"""A gradient concurrency limit: grows while latency holds, shrinks when it climbs.

After Netflix concurrency-limits' Gradient2: the latency of admitted requests is averaged over
short windows (`short`) and, much more slowly, over many windows (`long`, the no-load baseline).
While `short` stays within `tolerance` x `long` the limit grows by a small queue allowance;
past it the limit is cut in proportion (never below half per window). Windows where fewer than
half the slots were used teach nothing (the process was not the bottleneck) and are skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(slots=True)
class GradientLimit:
    """The current limit, fed one latency sample per admitted request."""

    initial: int
    min_limit: int
    max_limit: int
    # How much slower than the baseline a window may be before the limit shrinks.
    tolerance: float = 2.0
    # Share of each new estimate taken into the limit (damps oscillation).
    smoothing: float = 0.2
    # Seconds per window, and the windows the baseline averages over.
    window: float = 0.1
    long_windows: int = 600
    min_samples: int = 8
    limit: float = field(init=False)
    long: float = field(default=0.0, init=False)
    _started: float | None = field(default=None, init=False)
    _total: float = field(default=0.0, init=False)
    _count: int = field(default=0, init=False)
    _peak: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.min_limit <= self.initial <= self.max_limit:
            raise ValueError("limits must satisfy 1 <= min <= initial <= max")
        self.limit = float(self.initial)

    @property
    def current(self) -> int:
        """The number of requests that may be in flight now."""
        return int(self.limit)

    def sample(self, *, now: float, latency: float, in_flight: int) -> None:
        """One admitted request finished after `latency` s, with `in_flight` (it included)."""
        if self._started is None:
            self._started = now
        self._total += latency
        self._count += 1
        self._peak = max(self._peak, in_flight)
        if now - self._started < self.window or self._count < self.min_samples:
            return
        short = self._total / self._count
        used = self._peak
        self._started, self._total, self._count, self._peak = now, 0.0, 0, 0
        self._update(short, used)

    def _update(self, short: float, used: int) -> None:
        if self.long == 0.0:
            self.long = short
        else:
            self.long += (short - self.long) / self.long_windows
        if self.long > 2 * short:  # latency fell well below the baseline: forget it faster
            self.long *= 0.95
        if used < self.limit / 2:
            return
        gradient = max(0.5, min(1.0, self.tolerance * self.long / short))
        estimate = self.limit * gradient + math.sqrt(self.limit)
        limit = self.limit * (1 - self.smoothing) + estimate * self.smoothing
        self.limit = max(float(self.min_limit), min(float(self.max_limit), limit))
