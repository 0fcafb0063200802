"""User bearer tokens: signed, expiring, bound to a key id and an environment, revocable."""

from __future__ import annotations

import pytest

from shop.__main__ import main
from shop.auth.keyring import Keyring
from shop.auth.revocations import Revocations
from shop.auth.tokens import InvalidToken, TokenSigner, bearer_headers, mint_token
from shop.domain.errors import InvalidInput
from shop.settings import MAX_PROD_TOKEN_TTL, Settings

DAY = 24 * 3600
SECRET = "unit-secret"
RING = Keyring.from_settings(Settings(env="test", auth_secret=SECRET))


def _mint(
    user: str = "test-user-1", *, ttl: int = 1_000, now: int = 0, ring: Keyring = RING
) -> str:
    return ring.mint(user, ttl=ttl, now=now)[0]


def test_a_token_carries_its_user_until_it_expires() -> None:
    token = _mint(ttl=1_000)
    assert RING.verify(token, now=999).user_id == "test-user-1"
    with pytest.raises(InvalidToken, match="expired"):
        RING.verify(token, now=1_000)


@pytest.mark.parametrize("user", ["a", "user.with.dots", "ユーザー", "x" * 64])
def test_any_user_id_survives_the_round_trip(user: str) -> None:
    assert RING.verify(_mint(user), now=0).user_id == user


def test_every_changed_character_is_refused() -> None:
    token = _mint()
    for n, char in enumerate(token):
        swapped = "A" if char != "A" else "B"
        with pytest.raises(InvalidToken):
            RING.verify(token[:n] + swapped + token[n + 1 :], now=0)


@pytest.mark.parametrize(
    "token",
    ["", "v2", "v2.k1.test.YQ.0.10", "v1.YQ.10.sig", "v2.k1.test.YQ.0.ten.sig", "é" * 10],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        RING.verify(token, now=0)


def test_another_secret_does_not_verify() -> None:
    token = TokenSigner.from_secret("other").mint("u", expires_at=10, env="test", issued_at=0)
    with pytest.raises(InvalidToken, match="signature"):
        RING.verify(token, now=0)


def test_a_token_of_another_environment_is_refused() -> None:
    token = TokenSigner.from_secret(SECRET).mint("u", expires_at=10, env="dev", issued_at=0)
    with pytest.raises(InvalidToken, match="dev environment"):
        RING.verify(token, now=0)


def test_production_tokens_live_a_day_at_most() -> None:
    prod = Keyring.from_settings(Settings(env="prod", auth_secret="p", admin_token="a"))
    assert prod.max_ttl == MAX_PROD_TOKEN_TTL == DAY
    with pytest.raises(InvalidInput, match="86400"):
        prod.mint("u", ttl=DAY + 1, now=0)
    # One signed by the right key with a longer life (minted elsewhere) is refused too.
    long = prod.current.mint("u", expires_at=DAY + 1, env="prod", issued_at=0)
    with pytest.raises(InvalidToken, match="lifetime"):
        prod.verify(long, now=1)
    assert prod.verify(_mint("u", ttl=DAY, ring=prod), now=1).user_id == "u"


def test_a_token_issued_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidToken, match="future"):
        RING.verify(_mint(now=1_000), now=900)
    assert RING.verify(_mint(now=1_000), now=950).user_id == "test-user-1"  # clock skew


def test_rotation_accepts_the_previous_key_until_its_window_ends() -> None:
    rotated = Keyring.from_settings(
        Settings(
            env="test",
            auth_secret="new-secret",
            auth_key_id="k2",
            auth_accept_secret=SECRET,
            auth_accept_key_id="k1",
            auth_accept_until=500,
        )
    )
    old = _mint(ttl=1_000)
    new = _mint(ttl=1_000, ring=rotated)
    assert new.split(".")[1] == "k2"
    assert rotated.verify(old, now=499).user_id == "test-user-1"
    assert rotated.verify(new, now=499).user_id == "test-user-1"
    with pytest.raises(InvalidToken, match="retired"):
        rotated.verify(old, now=500)
    assert rotated.verify(new, now=500).user_id == "test-user-1"
    # Once the old key is removed from the configuration its tokens are unknown.
    done = Keyring.from_settings(Settings(env="test", auth_secret="new-secret", auth_key_id="k2"))
    with pytest.raises(InvalidToken, match="unknown signing key"):
        done.verify(old, now=0)
    # A replica not rotated yet does not know the new key: every replica accepts the new key
    # before any of them signs with it.
    with pytest.raises(InvalidToken, match="unknown signing key"):
        RING.verify(new, now=0)


def test_a_revoked_users_earlier_tokens_are_refused_and_later_ones_work() -> None:
    revocations = Revocations()
    ring = Keyring.from_settings(Settings(env="test", auth_secret=SECRET), revocations)
    before, other = _mint(now=100, ring=ring), _mint("test-user-2", now=100, ring=ring)
    revocations.replace({"test-user-1": 101})
    with pytest.raises(InvalidToken, match="revoked"):
        ring.verify(before, now=200)
    assert ring.verify(other, now=200).user_id == "test-user-2"
    assert ring.verify(_mint(now=101, ring=ring), now=200).user_id == "test-user-1"


def test_user_ids_are_bounded() -> None:
    for user in ("", "x" * 65):
        with pytest.raises(ValueError, match="user id"):
            _mint(user)


def test_load_test_tools_sign_with_their_own_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_LOADTEST_SECRET", "tools-secret")
    monkeypatch.setenv("SHOP_ENV", "test")
    token = mint_token("test-user-9", ttl=60, now=100)
    assert token.split(".")[1] == "loadtest"
    lab = Keyring.from_settings(Settings(env="test", loadtest_secret="tools-secret"))
    assert lab.verify(token, now=159).user_id == "test-user-9"
    header = bearer_headers("test-user-9")["Authorization"].removeprefix("Bearer ")
    assert lab.verify(header, now=int(header.split(".")[4])).user_id == "test-user-9"
    # Not with the shop's signing secret, and never in production.
    with pytest.raises(InvalidToken, match="signature"):
        Keyring.from_settings(Settings(env="test", loadtest_secret="x")).verify(token, now=159)
    monkeypatch.setenv("SHOP_ENV", "prod")
    prod = Keyring.from_settings(Settings(env="prod", auth_secret="p", admin_token="a"))
    with pytest.raises(InvalidToken, match="unknown signing key"):
        prod.verify(mint_token("test-user-9", ttl=60, now=100), now=159)


def test_the_cli_prints_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHOP_AUTH_SECRET", SECRET)
    monkeypatch.setenv("SHOP_ENV", "test")
    assert main(["token", "test-user-3", "--ttl", "120"]) == 0
    token = capsys.readouterr().out.strip()
    assert RING.verify(token, now=int(token.split(".")[4])).user_id == "test-user-3"
    assert main(["token", "test-user-3", "--ttl", "0"]) == 2
    assert main(["token", "x" * 65]) == 2
