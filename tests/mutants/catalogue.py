"""The checked-in list of guard mutations (docs/decisions/0005-guard-mutations.md says why).

Each one removes or weakens a single guard the way a plausible bug would, in one file under
`service/shop/`; `tests` are the node ids that must fail because of it.
"""

from __future__ import annotations

from dataclasses import dataclass

CONCURRENCY = "tests/integration/test_concurrency.py"
DURABILITY = "tests/integration/test_durability.py"
LOCKS = "tests/integration/test_distributed_locks.py"
GATE = "tests/integration/test_coupon_gate.py"
IDEMPOTENCY = "tests/integration/test_idempotency.py"
IDEMPOTENCY_API = "tests/e2e/test_idempotency_api.py"
REPOSITORIES = "tests/integration/test_repositories.py"
BATCHES = "tests/integration/test_coupon_batches.py"
ROUND_TRIPS = "tests/integration/test_round_trips.py"
ORDER_BATCHES = "tests/integration/test_order_batches.py"
# The concurrency tests are not named for the coupon batches' SQL guards: one process's
# batches of a coupon seldom overlap at the last units, so they pass without those guards; the
# batch tests' stale views make the race happen every time.


@dataclass(frozen=True, slots=True)
class Mutation:
    name: str
    path: str  # under service/shop/
    old: str  # occurs exactly once in the file
    new: str
    tests: tuple[str, ...]


MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "credit reads, then writes (lost updates)",
        "adapters/mysql/users.py",
        """        return await self._change(
            "users.credit",
            "UPDATE users SET balance = balance + %s WHERE user_id = %s AND balance + %s <= %s",
            (amount, user_id, amount, limit),""",
        """        read = await self.balance(user_id)
        if read is None or read + amount > limit:
            return None
        return await self._change(
            "users.credit",
            "UPDATE users SET balance = %s WHERE user_id = %s",
            (read + amount, user_id),""",
        (f"{CONCURRENCY}::test_500_concurrent_charges_over_5_users_are_all_counted",),
    ),
    Mutation(
        "credit ignores the balance maximum",
        "adapters/mysql/users.py",
        "WHERE user_id = %s AND balance + %s <= %s",
        "WHERE user_id = %s AND %s + %s > 0",
        ("tests/e2e/test_balance_api.py::test_charge_past_the_maximum_is_b002",),
    ),
    Mutation(
        "debit does not check the balance covers it",
        "adapters/mysql/users.py",
        " AND balance >= ({case})",
        " AND 0 <= ({case})",
        (
            f"{REPOSITORIES}::test_users_credit_debit_are_guarded",
            f"{ORDER_BATCHES}::test_a_guard_refusing_what_the_reads_allowed_splits_the_batch",
        ),
    ),
    Mutation(
        "a batch does not lock its users' rows (one user's orders overlap)",
        "adapters/mysql/session.py",
        """ ORDER BY {key} FOR UPDATE",""",
        """ ORDER BY {key}",""",
        (f"{ORDER_BATCHES}::test_one_users_orders_in_parallel_batches_pay_once",),
    ),
    Mutation(
        "the checkout rule lets an order past its balance (the debit guard splits its batch)",
        "domain/checkout.py",
        "    if final > buyer.balance:",
        "    if final > buyer.balance + final:",
        (f"{ORDER_BATCHES}::test_one_transaction_answers_each_order_its_own",),
    ),
    Mutation(
        "stock taken without checking it covers the order",
        "adapters/mysql/products.py",
        """            f" AND stock >= ({case})",""",
        """            f" AND 0 <= ({case})",""",
        (
            f"{CONCURRENCY}::test_300_orders_for_a_product_with_stock_50",
            f"{ORDER_BATCHES}::test_a_batch_short_of_stock_runs_again_locked_and_exact",
            f"{ORDER_BATCHES}::test_orders_racing_for_the_last_units_never_oversell[100]",
        ),
    ),
    Mutation(
        "a coupon batch is counted past its quantity",
        "adapters/mysql/coupons.py",
        """            " AND issued_quantity + %s <= total_quantity AND expires_at > %s",
            (count, coupon_id, count, to_db(now)),""",
        """            " AND expires_at > %s",
            (count, coupon_id, to_db(now)),""",
        (
            f"{REPOSITORIES}::test_coupon_batch_writes_are_guarded",
            f"{BATCHES}::test_a_batch_short_of_units_runs_again_locked_and_exact",
        ),
    ),
    Mutation(
        "a user may hold a coupon twice (no unique key)",
        "adapters/mysql/migrations/0001_schema.sql",
        "UNIQUE KEY uq_user_coupons_coupon_user (coupon_id, user_id)",
        "KEY uq_user_coupons_coupon_user (coupon_id, user_id)",
        (
            f"{REPOSITORIES}::test_coupon_batch_writes_are_guarded",
            f"{BATCHES}::test_a_batch_the_unique_key_refuses_is_split_not_half_applied",
        ),
    ),
    Mutation(
        "a coupon batch's insert skips holders instead of failing (INSERT IGNORE)",
        "adapters/mysql/coupons.py",
        """"INSERT INTO user_coupons (coupon_id, user_id, status, issued_at)"
                " VALUES (%s, %s, %s, %s)",""",
        """"INSERT IGNORE INTO user_coupons (coupon_id, user_id, status, issued_at)"
                " VALUES (%s, %s, %s, %s)",""",
        (
            f"{REPOSITORIES}::test_coupon_batch_writes_are_guarded",
            f"{BATCHES}::test_a_batch_the_unique_key_refuses_is_split_not_half_applied",
        ),
    ),
    Mutation(
        "a used coupon can be marked used again",
        "adapters/mysql/coupons.py",
        """ AND status = 'AVAILABLE'",
            [to_db(now), *per_id, *ids],""",
        """",
            [to_db(now), *per_id, *ids],""",
        ("tests/integration/test_repositories.py::test_coupons",),
    ),
    Mutation(
        "a charge commits without checking its lease",
        "use_cases/balance.py",
        ", fence=lease",
        "",
        (
            f"{DURABILITY}::test_a_charge_whose_lease_lapsed_rolls_back",
            f"{LOCKS}::test_a_holder_whose_lease_lapsed_writes_nothing",
        ),
    ),
    Mutation(
        "an order commits without checking its lease",
        "use_cases/orders.py",
        "lease=lease, seal=seal",
        "lease=None, seal=seal",
        (f"{DURABILITY}::test_an_order_whose_lease_lapsed_rolls_back",),
    ),
    Mutation(
        "an order batch commits without checking its orders' leases",
        "use_cases/order_batches.py",
        "self._store.transaction(work, fence=_Leases(tickets))",
        "self._store.transaction(work)",
        (
            f"{ORDER_BATCHES}::test_an_order_whose_lease_lapsed_fails_alone",
            f"{DURABILITY}::test_an_order_whose_lease_lapsed_rolls_back",
        ),
    ),
    Mutation(
        "a keyed order's outcome is not written in its batch's transaction",
        "use_cases/order_batches.py",
        "            if not await ticket.seal.write(tx, outcome):",
        "            if False:",
        (f"{ORDER_BATCHES}::test_keyed_orders_join_a_batch_and_their_outcomes_commit_with_it",),
    ),
    Mutation(
        "a gate unit a coupon batch lost is not given back",
        "use_cases/coupon_batches.py",
        "            await self._gate.refund_many(coupon_id, refunds)",
        "            pass",
        (f"{GATE}::test_a_unit_mysql_refuses_goes_back_to_the_gate",),
    ),
    Mutation(
        "the gate admits a user twice within a batch call",
        "adapters/redis/coupon_gate.py",
        "  if redis.call('SISMEMBER', KEYS[3], ARGV[i]) == 1 then answers[i] = -1",
        "  if false then answers[i] = -1",
        (f"{GATE}::test_sold_out_and_duplicates_never_reach_mysql",),
    ),
    Mutation(
        "the in-process lock does not lock",
        "locks/local.py",
        "        if entry.holder is None and not entry.waiters:\n",
        "        if True:\n",
        (
            "tests/unit/test_local_locks.py::test_many_tasks_one_key_never_two_holders",
            f"{CONCURRENCY}::test_the_user_lock_keeps_a_charge_off_the_database_while_held",
            "tests/e2e/test_unavailable_api.py::test_lock_still_held_is_409_with_retry_after",
        ),
    ),
    Mutation(
        "the in-process lease never lapses",
        "locks/local.py",
        "        held.lost.set()\n",
        "",
        (f"{DURABILITY}::test_an_order_whose_lease_lapsed_rolls_back",),
    ),
    Mutation(
        "the Redis lock does not lock across processes",
        "adapters/redis/locks.py",
        "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then",
        "if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) then",
        (f"{LOCKS}::test_across_processes_only_the_redis_backend_excludes[redis-True]",),
    ),
    Mutation(
        "a Redis release deletes another holder's lock",
        "adapters/redis/locks.py",
        """if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])""",
        """if true then
  redis.call('DEL', KEYS[1])""",
        (f"{LOCKS}::test_a_holder_whose_lease_lapsed_writes_nothing",),
    ),
    Mutation(
        "fences do not increase",
        "adapters/redis/locks.py",
        "  return redis.call('INCR', KEYS[2])",
        "  return 1",
        (f"{LOCKS}::test_fences_strictly_increase_across_replicas",),
    ),
    Mutation(
        "a lost Redis lease is never noticed",
        "adapters/redis/locks.py",
        "                entry.lease.lost.set()\n",
        "",
        (f"{LOCKS}::test_a_holder_whose_lease_lapsed_writes_nothing",),
    ),
    Mutation(
        "the pool lends past its size",
        "adapters/mysql/limiter.py",
        "        if self.in_use < self.limit and not self._waiters:",
        "        if True:",
        (
            "tests/integration/test_repositories.py::test_exhausted_pool_times_out_and_leaks_nothing",
        ),
    ),
    Mutation(
        "a stored Idempotency-Key does not stop a retry",
        "adapters/mysql/idempotency.py",
        """            (user_id, key, fingerprint.hex(), token, to_db(now), to_db(now)),
        )
        return changed == 1""",
        """            (user_id, key, fingerprint.hex(), token, to_db(now), to_db(now)),
        )
        return True""",
        (
            f"{IDEMPOTENCY_API}::test_charge_retried_charges_once_and_replays_the_first_answer",
            f"{IDEMPOTENCY_API}::test_retry_while_the_first_is_in_flight_gets_409_never_a_second_charge",
        ),
    ),
    Mutation(
        "an outcome is sealed by whoever holds the key",
        "adapters/mysql/idempotency.py",
        """            + _WHERE
            + " AND refused IS NULL",
            (outcome.refused, outcome.body.decode(), to_db(outcome.at), user_id, key, token),""",
        """            + "WHERE user_id = %s AND idem_key = %s AND %s IS NOT NULL",
            (outcome.refused, outcome.body.decode(), to_db(outcome.at), user_id, key, token),""",
        (f"{IDEMPOTENCY}::test_a_retry_that_takes_over_a_slow_claim_leaves_one_effect",),
    ),
    Mutation(
        "the outcome is written after the effect's commit",
        "use_cases/seals.py",
        """    result = await store.transaction(sealing, fence=fence)
    seal.stored = written[0]""",
        """    async def unsealed(tx: Tx) -> T:
        result = await work(tx)
        written.append(seal.outcome(result))
        return result

    result = await store.transaction(unsealed, fence=fence)
    await store.autocommit(lambda tx: seal.write(tx, written[0]))
    seal.stored = written[0]""",
        (
            f"{IDEMPOTENCY}::test_a_crash_between_commit_and_answer_is_replayed_not_paid_twice",
            "tests/e2e/test_idempotency_outcome_unknown_api.py::"
            "test_a_retry_after_outcome_unknown_pays_exactly_once[answer-lost]",
        ),
    ),
    Mutation(
        "a keyed coupon issue's outcome is not written in its batch's transaction",
        "use_cases/coupon_batches.py",
        """            if not await ticket.seal.write(tx, outcome):""",
        """            if False:""",
        (f"{BATCHES}::test_keyed_requests_join_a_batch_and_their_outcomes_commit_with_it",),
    ),
    Mutation(
        "the store commits without calling the lease's fence",
        "adapters/mysql/pool.py",
        "                await session.commit(fence)",
        "                await session.commit()",
        (
            f"{DURABILITY}::test_a_charge_whose_lease_lapsed_rolls_back",
            f"{DURABILITY}::test_an_order_whose_lease_lapsed_rolls_back",
        ),
    ),
    Mutation(
        "a deferred write's failure passes for the next statement's own error",
        "adapters/mysql/session.py",
        """            if ahead > 0:
                raise DeferredWriteFailed""",
        """            if False:
                raise DeferredWriteFailed""",
        (
            f"{ROUND_TRIPS}::test_a_deferred_write_that_fails_rolls_back_and_is_not_the_next"
            "_statements_error[next statement]",
        ),
    ),
    Mutation(
        "a failed request releases an answered key",
        "adapters/mysql/idempotency.py",
        """            "DELETE FROM idempotency_keys " + _WHERE + " AND refused IS NULL",""",
        """            "DELETE FROM idempotency_keys " + _WHERE,""",
        (f"{IDEMPOTENCY}::test_a_crash_between_commit_and_answer_is_replayed_not_paid_twice",),
    ),
    Mutation(
        "a user token opens another user's data",
        "api/framework/auth.py",
        "        if principal != user_id:",
        "        if principal is None:",
        ("tests/e2e/test_auth_api.py::test_another_users_token_is_403_and_changes_nothing",),
    ),
    Mutation(
        "a token's signature is not checked",
        "auth/keyring.py",
        "        if not self._signer(claims.key_id, now).genuine(token):",
        "        if not self._signer(claims.key_id, now):",
        (
            "tests/unit/test_tokens.py::test_another_secret_does_not_verify",
            "tests/e2e/test_auth_api.py::test_forged_expired_and_admin_tokens_are_401",
        ),
    ),
    Mutation(
        "a token works in another environment",
        "auth/keyring.py",
        "        if claims.env != self.env:",
        "        if claims.env is None:",
        ("tests/unit/test_tokens.py::test_a_token_of_another_environment_is_refused",),
    ),
    Mutation(
        "a token outlives the production maximum",
        "auth/keyring.py",
        "        if claims.expires_at - claims.issued_at > self.max_ttl:",
        "        if claims.expires_at < claims.issued_at:",
        ("tests/unit/test_tokens.py::test_production_tokens_live_a_day_at_most",),
    ),
    Mutation(
        "a retired signing key still verifies",
        "auth/keyring.py",
        "        if accepted.until is not None and now >= accepted.until:",
        "        if accepted.until is None and now >= 0:",
        (
            "tests/unit/test_tokens.py::test_rotation_accepts_the_previous_key_until_its_window_ends",
        ),
    ),
    Mutation(
        "a database without TLS is used in plain text",
        "adapters/mysql/tls.py",
        """    if not getattr(conn, "_secure", False):""",
        """    if getattr(conn, "_secure", None) is None:""",
        (
            "tests/integration/test_database_tls.py::test_a_server_without_tls_is_refused_before"
            "_any_statement",
        ),
    ),
    Mutation(
        "a revoked token still works",
        "auth/keyring.py",
        "        if self.revocations.revoked(claims.user_id, claims.issued_at):",
        "        if self.revocations is None:",
        (
            "tests/unit/test_tokens.py::test_a_revoked_users_earlier_tokens_are_refused_and_later"
            "_ones_work",
            "tests/e2e/test_token_lifecycle_api.py::test_a_revoked_user_is_refused_on_every_replica",
        ),
    ),
)
