"""Runtime: which targets answer and which switches are on, then one row per replica with its
saturation (CPU, memory, file descriptors, garbage collection, event-loop lag, load); the
admission gate last (limit, queue, refusals)."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from panels import (
    INSTANCE,
    RATE,
    SWITCH,
    UP_DOWN,
    Graph,
    board,
    layout,
    p99,
    per,
    row,
    states,
    summed,
)

ONE = 'job="shop", instance=~"$instance"'


def dashboard() -> Dashboard:
    """shop-runtime; alerts link to 1 (targets), 2 (event-loop lag), 6 (switches), 7 (CPU),
    12 (shedding)."""
    return layout(
        board(
            "shop-runtime",
            "Shop: runtime",
            "Scrape targets and incident switches; per replica: CPU, memory, file "
            "descriptors, garbage collection, event-loop lag and load; builds; the admission"
            " gate (limit, queue, refusals).",
            (INSTANCE,),
        ),
        row(100, "Targets and switches"),
        states(
            1,
            "Targets up",
            [
                ("up", "{{job}} {{instance}}"),
                ("mysql_up", "MySQL"),
                ("redis_up", "Redis"),
            ],
            description="up = scraped (and, for the exporters, the datastore answers); down = not.",
            mapping=UP_DOWN,
            width=12,
            height=8,
        ),
        states(
            6,
            "Incident switches",
            [("max by (switch, value) (shop_incident_switch)", "{{switch}} = {{value}}")],
            description="normal, or on (away from the normal value) on any replica; the "
            "legend names the value.",
            mapping=SWITCH,
            width=12,
            height=8,
        ),
        row(101, "Replica $instance", repeat="instance"),
        Graph(7, "CPU (share of one core)", "percentunit")
        .plot((f"rate(process_cpu_seconds_total{{{ONE}}}[{RATE}])", "{{instance}}"))
        .description(
            "One process runs one event loop on one core: at 100 % it has no headroom. The "
            "line is ShopCpuSaturated's 90 %."
        )
        .line(0.9, "red"),
        Graph(8, "Memory (resident)", "bytes")
        .plot(("process_resident_memory_bytes{" + ONE + "}", "{{instance}}"))
        .description("Resident set size of the process; a steady climb is a leak."),
        Graph(9, "Open file descriptors", "short")
        .plot(("process_open_fds{" + ONE + "}", "{{instance}}"))
        .description(
            "Sockets and files the process holds (pools, clients, Redis subscriptions); the "
            "limit is process_max_fds."
        ),
        Graph(10, "Garbage collections", "ops")
        .plot(
            per(
                "instance, generation",
                "python_gc_collections_total",
                ONE,
                legend="{{instance}} gen {{generation}}",
            )
        )
        .description(
            "Collections per second by generation: rising with memory means allocation "
            "pressure, which the event loop pays for."
        ),
        Graph(2, "Event-loop lag", "s")
        .plot(p99("shop_event_loop_lag_seconds", "instance", ONE, legend="{{instance}} p99"))
        .description(
            "How late the loop runs a timer: blocking code shows here. Lines: "
            "ShopEventLoopLagRising (25 ms) and ShopEventLoopLag (100 ms)."
        )
        .line(0.025, "orange")
        .line(0.1, "red"),
        Graph(3, "Requests in flight", "short")
        .plot(summed("instance", "http_server_active_requests", ONE))
        .description("Requests the replica is serving."),
        row(102, "Builds and scrapes"),
        Graph(5, "Builds", "short")
        .plot(("count by (version) (shop_build_info)", "{{version}}"))
        .description(
            "Replicas per version (two lines during a rollout; deploys are marked on every board)."
        )
        .size(12),
        Graph(4, "Scrape duration", "s")
        .plot(('scrape_duration_seconds{job=~"shop|mysqld|redis"}', "{{job}} {{instance}}"))
        .description("Time to collect each target's metrics.")
        .size(12),
        row(103, "Admission control"),
        Graph(11, "Admission: limit, in flight, queued", "short")
        .plot(
            summed("instance", "shop_admission_limit", legend="{{instance}} limit"),
            summed("instance", "shop_admission_in_flight", legend="{{instance}} in flight"),
            summed("instance", "shop_admission_queued", legend="{{instance}} queued"),
        )
        .description(
            "The adaptive concurrency limit and what fills it (SHOP_ADMISSION=on): in flight "
            "pinned at the limit with a queue is a shop at capacity."
        ),
        Graph(12, "Admission: refusals (503 OVERLOADED) by reason and route", "reqps")
        .plot(per("reason, http_route", "shop_admission_refusals_total", 'job="shop"'))
        .description(
            "Requests shed at the front door: queue_full (the queue is as long as the limit), "
            "queue_timeout (waited past the deadline), late (waited past it before reaching "
            "the gate: a busy event loop)."
        ),
        Graph(13, "Admission: p99 queue time by priority", "s")
        .plot(p99("shop_admission_queue_duration_seconds", "priority, decision", 'job="shop"'))
        .description(
            "Time before the gate decided: 100 ms at most while the queue drains, 5 ms once "
            "it has not emptied for 100 ms."
        ),
        # A replica's row holds three panels a line; builds, scrapes and states take half.
        width=8,
    )
