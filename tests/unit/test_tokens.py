"""User bearer tokens: signed, expiring, carrying the user id; the CLI that mints them."""

from __future__ import annotations

import pytest

from shop.__main__ import main
from shop.auth.tokens import InvalidToken, TokenSigner, bearer_headers, mint_token

SIGNER = TokenSigner.from_secret("unit-secret")


def test_a_token_carries_its_user_until_it_expires() -> None:
    token = SIGNER.mint("test-user-1", expires_at=1_000)
    assert SIGNER.verify(token, now=999) == "test-user-1"
    with pytest.raises(InvalidToken, match="expired"):
        SIGNER.verify(token, now=1_000)


@pytest.mark.parametrize("user", ["a", "user.with.dots", "ユーザー", "x" * 64])
def test_any_user_id_survives_the_round_trip(user: str) -> None:
    assert SIGNER.verify(SIGNER.mint(user, expires_at=10), now=0) == user


def test_every_changed_character_is_refused() -> None:
    token = SIGNER.mint("test-user-1", expires_at=1_000)
    for n, char in enumerate(token):
        swapped = "A" if char != "A" else "B"
        with pytest.raises(InvalidToken):
            SIGNER.verify(token[:n] + swapped + token[n + 1 :], now=0)


@pytest.mark.parametrize(
    "token", ["", "v1", "v1.a.b", "v2.YQ.10.sig", "v1.YQ.ten.sig", "v1.YQ.10.sig.more", "é" * 10]
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        SIGNER.verify(token, now=0)


def test_another_secret_does_not_verify() -> None:
    token = TokenSigner.from_secret("other").mint("u", expires_at=10)
    with pytest.raises(InvalidToken, match="signature"):
        SIGNER.verify(token, now=0)


def test_user_ids_are_bounded() -> None:
    for user in ("", "x" * 65):
        with pytest.raises(ValueError, match="user id"):
            SIGNER.mint(user, expires_at=10)


def test_load_tests_mint_with_the_shop_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_AUTH_SECRET", "unit-secret")
    token = mint_token("test-user-9", ttl=60, now=100)
    assert SIGNER.verify(token, now=159) == "test-user-9"
    header = bearer_headers("test-user-9")["Authorization"]
    assert SIGNER.verify(header.removeprefix("Bearer "), now=0) == "test-user-9"


def test_the_cli_prints_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHOP_AUTH_SECRET", "unit-secret")
    assert main(["token", "test-user-3", "--ttl", "120"]) == 0
    token = capsys.readouterr().out.strip()
    assert SIGNER.verify(token, now=0) == "test-user-3"
    assert main(["token", "test-user-3", "--ttl", "0"]) == 2
    assert main(["token", "x" * 65]) == 2
