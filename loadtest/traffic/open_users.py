"""Open-model users: requests start on the arrival schedule, whatever the shop answers.

Each locust process runs a pool of these users and takes its share of the scenario's schedule
(every n-th arrival from its worker index, so workers add up to the rate). The schedule starts
once the profile's warm-up is over: the pool spawned and every user's connection open (one
unrecorded request each), so no arrival is due before a user and a connection are there to
send it (decision 0042). A user takes the
next arrival, sleeps until its intended start and sends it. The arrival's latency is recorded
from the intended start (corrected for coordinated omission) as a request named
`<name> @intended`, or `<name> @shed` for arrivals refused 503 OVERLOADED (each class its own
percentiles), beside locust's own row for the request, whose clock starts only at sending.
An arrival no user could start within LATE_AFTER of its time is not sent and is counted as
NOT_STARTED: the generator fell behind (too small a pool, or a starved process), not the shop.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import gevent
from locust import constant, task
from locust.runners import WorkerRunner

from loadtest.traffic import contract, rejections
from loadtest.traffic.arrivals import ARRIVALS, LATE_AFTER, share
from loadtest.traffic.scenarios import scenario
from loadtest.traffic.users import ShopUser

INTENDED = "@intended"
SHED = "@shed"
NOT_STARTED = "NOT_STARTED"
_schedule: dict[str, Iterator[float]] = {}
_started: list[float] = []


def setup(environment: Any) -> None:
    """Start this process's part of the schedule when the run starts."""
    environment.events.test_start.add_listener(lambda **_: _start(environment))


def _start(environment: Any) -> None:
    options = environment.parsed_options
    # A game day names its own profile (and when it starts) instead of the scenario's.
    named = getattr(options, "arrivals", "")
    arrivals = ARRIVALS[named] if named else scenario(options.scenario).arrivals
    if arrivals is None:
        return
    # Each worker takes every n-th arrival from its index; the master sends the workers its
    # options, `expect_workers` among them, and each its index when it joins.
    runner = environment.runner
    index, count = 0, 1
    if isinstance(runner, WorkerRunner):
        index, count = runner.worker_index, int(options.expect_workers)
    scale = float(options.scale)
    times = arrivals.schedule(float(options.capacity), scale)
    _schedule["times"] = share(times, index, count)
    # `--arrivals-at` (epoch seconds) starts the schedule at a wall-clock time the caller chose;
    # otherwise once the whole pool has started and settled (Scenario.schedule_start).
    at = float(getattr(options, "arrivals_at", 0.0) or 0.0)
    delay = at - time.time() if at else scenario(options.scenario).schedule_start(scale)
    _started[:] = [time.monotonic() + delay]


def _next_start() -> float | None:
    times = _schedule.get("times")
    if times is None or not _started:
        return None
    return _started[0] + next(times, float("inf"))


class OpenUser(ShopUser):
    """Base: one arrival per task run, on schedule; `arrive` sends it and names it."""

    abstract = True
    wait_time = constant(0)
    backs_off = False

    def on_start(self) -> None:
        # Open this user's keep-alive connection during the warm-up, outside locust's stats
        # (the never-shed health check): the schedule must not pay for the handshakes.
        # If it fails, the first arrival opens the connection, and its latency says so.
        with contextlib.suppress(OSError):
            answer = self.client.client.urlopen(f"{self.host}/healthz", method="GET")
            answer.content  # noqa: B018 (reading the body frees the connection for reuse)

    def arrive(self) -> str:
        raise NotImplementedError

    @task
    def arrival(self) -> None:
        intended = _next_start()
        if intended is None or intended == float("inf"):
            gevent.sleep(0.5)  # the schedule is over (or not begun): the shape ends the run
            return
        delay = intended - time.monotonic()
        if delay > 0:
            gevent.sleep(delay)
        elif -delay > LATE_AFTER:
            rejections.count("OPEN", type(self).__name__, NOT_STARTED)
            return
        name = self.arrive()
        took = time.monotonic() - intended
        wall_intended = time.time() - took  # the request log's clock is the wall clock
        kind = self.last.kind
        self.environment.events.request.fire(
            request_type="OPEN",
            name=f"{name} {SHED if kind == 'shed' else INTENDED}",
            response_time=took * 1000,
            response_length=0,
            start_time=wall_intended,
            exception=Exception(self.last.reason) if kind == "failed" else None,
            context=self.last_trace,  # the arrival's row names the trace of its last request
        )


class OpenChargeUser(OpenUser):
    """A charge for a random user per arrival."""

    def arrive(self) -> str:
        self.charge_balance(self.any_user())
        return contract.CHARGE


class OpenCouponUser(OpenUser):
    """A coupon issue for a random user per arrival."""

    def arrive(self) -> str:
        self.issue_coupon(self.any_user())
        return contract.ISSUE


class OpenOrderUser(OpenUser):
    """A cart item then its order per arrival (timed as one, from the intended start)."""

    def arrive(self) -> str:
        user = self.any_user()
        if self.add_to_cart(user) is not None:
            self.call("POST", "/api/orders", contract.ORDER, {"userId": user}, user=user)
        return contract.ORDER
