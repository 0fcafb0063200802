"""DB and Redis pools, USE-style, with the database's and Redis's own view from the exporters."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from panels import (
    INSTANCE,
    POOL,
    RATE,
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

SCOPE = 'job="shop", instance=~"$instance", pool=~"$pool"'
STATEMENTS = 'job="shop", instance=~"$instance"'


def dashboard() -> Dashboard:
    """shop-pools; alerts link to 3, 4, 5, 7, 8, 9, 10, 11 and 12."""
    return layout(
        board(
            "shop-pools",
            "Shop: DB and Redis pools",
            "Utilisation, saturation and errors of the connection pools; statements; "
            "InnoDB row locks and deadlocks; MySQL threads; Redis clients and commands.",
            (INSTANCE, POOL),
        ),
        row(
            100,
            "Connection pools: utilisation, saturation, errors (pool=main is the "
            "database, pool=redis the Redis client)",
        ),
        Graph(1, "Connections used vs max", "short")
        .plot(
            (
                f'sum by (pool) (db_client_connection_count{{{SCOPE}, state="used"}})',
                "{{pool}} used",
            ),
            summed("pool", "db_client_connection_max", SCOPE, legend="{{pool}} max"),
        )
        .description("Connections lent out against what the pools may lend, all replicas."),
        Graph(2, "Utilisation", "percentunit")
        .plot(
            (
                f"sum by (instance, pool) "
                f'(db_client_connection_count{{{SCOPE}, state="used"}})'
                f" / sum by (instance, pool) (db_client_connection_max{{{SCOPE}}})",
                "{{instance}} {{pool}}",
            )
        )
        .description("Share of each replica's pool in use; the line is ShopPoolNearlyFull's 80 %.")
        .line(0.8, "orange"),
        Graph(3, "Requests waiting for a connection", "short")
        .plot(summed("instance, pool", "db_client_connection_pending_requests", SCOPE))
        .description("Saturation: anything above 0 while used = max is queueing."),
        latency(4, "Connection acquire wait")
        .plot(*median_and_p99("db_client_connection_wait_time_seconds", "pool", SCOPE))
        .description(
            "Time to obtain a connection; points link to the waiting traces. The line is "
            "ShopDbPoolAcquireSlow's 100 ms."
        )
        .line(0.1, "orange"),
        Graph(5, "Acquire timeouts", "ops")
        .plot(per("pool", "db_client_connection_timeouts_total", SCOPE))
        .description(
            "Acquires that gave up (main: 503 DB001; redis: LOCK002). The line is the timeout "
            "alerts' 0.02/s."
        )
        .line(0.02, "red"),
        Graph(6, "Connection held for (p99)", "s")
        .plot(p99("db_client_connection_use_time_seconds", "pool", SCOPE))
        .description("How long a request keeps its connection: long holds starve the pool."),
        row(101, "Statements"),
        latency(7, "Statement p99 by query")
        .plot(p99("db_client_operation_duration_seconds", "db_operation", STATEMENTS))
        .description(
            "Duration of each static query; a missing index or a slow database shows here "
            "first. The line is ShopDbStatementsSlow's 250 ms."
        )
        .line(0.25, "orange"),
        Graph(8, "Statements by MySQL error code", "ops")
        .plot(per("error_code", "db_client_operation_duration_seconds_count", STATEMENTS))
        .description(
            "Statement rate by error code (empty = success; 1205 lock wait timeout, 1213 deadlock)."
        ),
        row(102, "MySQL (mysqld_exporter)"),
        Graph(9, "InnoDB row-lock waits", "short")
        .plot(
            (
                f"rate(mysql_global_status_innodb_row_lock_time[{RATE}]) / 1000",
                "sessions waiting (avg)",
            )
        )
        .right("ops", (f"rate(mysql_global_status_innodb_row_lock_waits[{RATE}])", "waits/s"))
        .plot(("mysql_global_status_innodb_row_lock_current_waits", "waiting now"))
        .description(
            "From mysqld_exporter: how many sessions wait for row locks (left axis), and how "
            "often (right)."
        ),
        Graph(10, "InnoDB deadlocks", "ops")
        .plot((f"rate(mysql_global_status_innodb_deadlocks[{RATE}])", "deadlocks/s"))
        .description("Deadlocks InnoDB resolved by rolling a transaction back."),
        Graph(11, "MySQL threads", "short")
        .plot(
            ("mysql_global_status_threads_connected", "connected"),
            ("mysql_global_status_threads_running", "running"),
            ("mysql_global_variables_max_connections", "max_connections"),
        )
        .description("Connections of every replica's pool together, against the limit."),
        row(103, "Redis (redis_exporter)"),
        Graph(12, "Redis clients", "short")
        .plot(("redis_connected_clients", "connected"), ("redis_blocked_clients", "blocked"))
        .right("ops", (f"rate(redis_rejected_connections_total[{RATE}])", "rejected/s"))
        .description(
            "From redis_exporter: lock waiters' subscriptions count as clients; rejections "
            "per second on the right."
        ),
        Graph(13, "Redis commands", "ops")
        .plot(per("cmd", "redis_commands_total"))
        .description("Commands per second by name (EVALSHA = lock and gate scripts)."),
        Graph(14, "Redis memory", "bytes")
        .plot(("redis_memory_used_bytes", "used"))
        .description("Memory Redis uses (locks, coupon gate, switch values).")
        .size(24),
    )
