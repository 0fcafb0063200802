"""Locks: who waits for which lock, how long, how it ends, and the backend's health."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from panels import (
    INSTANCE,
    LOCK,
    Graph,
    board,
    latency,
    layout,
    median_and_p99,
    p99,
    per,
    row,
    summed,
)

SHOP = 'job="shop", instance=~"$instance", lock_name=~"$lock"'
BACKEND = 'job="shop", instance=~"$instance"'


def dashboard() -> Dashboard:
    """shop-locks; alerts link to 1, 3, 4, 5, 6 and 7."""
    return layout(
        board(
            "shop-locks",
            "Shop: locks",
            "Per-lock waiters, wait and hold times, outcomes, lease losses and backend errors.",
            (INSTANCE, LOCK),
        ),
        row(100, "Queues: waiters, wait time and how acquires end"),
        Graph(1, "Waiters by lock", "short")
        .plot(summed("lock_name", "shop_lock_waiters", SHOP))
        .description(
            "Requests queued for each lock across the replicas; the line is "
            "ShopLockWaitersPiling's 10."
        )
        .line(10, "red"),
        Graph(2, "Locks held", "short")
        .plot(summed("lock_name", "shop_lock_held", SHOP))
        .description("Holders right now; a global order lock never exceeds 1."),
        latency(3, "Lock wait")
        .plot(*median_and_p99("shop_lock_wait_duration_seconds", "lock_name", SHOP))
        .description(
            "Time to get each lock; points link to the waiting traces. The line is "
            "ShopLockContention's 250 ms."
        )
        .line(0.25, "orange"),
        Graph(4, "Acquires by outcome", "ops")
        .plot(per("lock_name, outcome", "shop_lock_wait_duration_seconds_count", SHOP))
        .description("acquired, timeout (409 LOCK001), error (503 LOCK002), cancelled."),
        row(101, "Holders, leases and the backend"),
        latency(5, "Lock hold (p99)")
        .plot(p99("shop_lock_hold_duration_seconds", "lock_name", SHOP))
        .description(
            "How long holders keep each lock: everyone behind waits this long. The line is "
            "ShopLockHeldLong's second."
        )
        .line(1, "orange"),
        Graph(6, "Leases lost", "short")
        .plot(per("lock_name", "shop_lock_lease_lost_total", SHOP, fn="increase"))
        .description("Holders whose lease lapsed mid-hold (rolled back, 503 LOCK003)."),
        Graph(7, "Lock backend errors", "ops")
        .plot(per("backend, op", "shop_lock_backend_errors_total", BACKEND))
        .description("Failed backend operations (Redis unreachable or refusing)."),
        Graph(8, "Waiter wake-ups by source", "ops")
        .plot(per("source", "shop_lock_wakeups_total", BACKEND))
        .description("How waiters learn a lock is free (release message or timer)."),
        Graph(9, "Keys tracked per replica", "short")
        .plot(summed("instance", "shop_lock_keys", BACKEND))
        .description("Keys with a holder or waiter; grows only on a leak.")
        .size(24),
    )
