"""A check of the shop's own for schemathesis: a schema-valid request refused with 400 must be
refused for a business reason, never for its shape.

`positive_data_acceptance` (schemathesis.toml) lets 400 through on the operations whose contract
documents business 400s (no balance, no stock, sold out ...); it cannot tell those from the
decoder's COMMON001/COMMON002, which for a request the document allows mean the document lies.
This check reads the problem's `code`. Loaded by tests/e2e/test_schemathesis.py through
SCHEMATHESIS_HOOKS; `--checks all` runs it.
"""

from __future__ import annotations

import json

import schemathesis
from schemathesis import Case, CheckContext, Response

SHAPE = ("COMMON001", "COMMON002")
# The two rules the document cannot state, documented beside their widened 400 in
# schemathesis.toml: a coupon's expiry against the shop's clock, a value another switch takes.
UNSTATABLE = ("'expiresAt' must be in the future", "value must be")


@schemathesis.check
def refused_only_for_business_reasons(
    ctx: CheckContext, response: Response, case: Case
) -> bool | None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code != 400:
        return None
    problem = json.loads(response.content)
    if problem.get("code") in SHAPE and not any(rule in problem["detail"] for rule in UNSTATABLE):
        raise AssertionError(
            f"schema-valid request refused for its shape: {problem['code']} {problem['detail']}"
        )
    return None
