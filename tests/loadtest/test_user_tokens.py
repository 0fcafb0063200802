"""Load-test users carry their own bearer token when the shop requires one."""

from __future__ import annotations

import time

from loadtest.tokens import UserTokens
from shop.auth.tokens import TokenSigner


def test_each_user_gets_a_token_of_its_own_signed_with_the_shops_secret() -> None:
    tokens = UserTokens("load-secret")
    header = tokens.headers("test-user-3")["Authorization"]
    signer = TokenSigner.from_secret("load-secret")
    # Valid for far longer than any run.
    assert signer.verify(header.removeprefix("Bearer "), now=time.time() + 24 * 3600) == (
        "test-user-3"
    )
    assert tokens.headers("test-user-3")["Authorization"] == header  # minted once
    other = tokens.headers("test-user-4")["Authorization"].removeprefix("Bearer ")
    assert signer.verify(other, now=0) == "test-user-4"


def test_no_secret_sends_no_token() -> None:
    assert UserTokens("").headers("test-user-3") == {}
    assert UserTokens("s").headers(None) == {}
