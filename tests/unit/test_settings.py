"""Settings from the environment."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from shop.settings import Settings, SettingsError, env_var


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.port == 8081
    assert settings.lock_backend == "local"
    assert settings.redis_url is None
    assert settings.db_pool_max > 10


def test_reads_every_variable() -> None:
    settings = Settings.from_env(
        {
            "SHOP_DB_URL": "mysql://u:p@db:3307/x",
            "SHOP_REDIS_URL": "redis://r:6379/0",
            "SHOP_HOST": "127.0.0.1",
            "SHOP_PORT": "9000",
            "SHOP_DB_POOL_MAX": "12",
            "SHOP_ADMIN_TOKEN": "s3cret",
            "SHOP_LOCK_BACKEND": "redis",
            "SHOP_ENV": "prod",
            "SHOP_AUTH_SECRET": "another-s3cret",
            "SHOP_TOKEN_TTL": "600",
            "SHOP_IDEMPOTENCY_TTL": "3600",
            "SHOP_IDEMPOTENCY_CLAIM_TIMEOUT": "5",
            "SHOP_LOG_LEVEL": "debug",
        }
    )
    assert (settings.db_url, settings.redis_url, settings.host, settings.port) == (
        "mysql://u:p@db:3307/x",
        "redis://r:6379/0",
        "127.0.0.1",
        9000,
    )
    assert (settings.db_pool_max, settings.admin_token, settings.lock_backend) == (
        12,
        "s3cret",
        "redis",
    )
    assert settings.log_level == "DEBUG"
    assert (settings.auth, settings.auth_secret, settings.token_ttl) == (
        "required",
        "another-s3cret",
        600,
    )
    assert (settings.idempotency_ttl, settings.idempotency_claim_timeout) == (3600, 5)


@pytest.mark.parametrize(
    ("environ", "mode"),
    [
        ({}, "off"),
        ({"SHOP_ENV": "test"}, "off"),
        ({"SHOP_AUTH": "required"}, "required"),
        ({"SHOP_ENV": "prod", "SHOP_ADMIN_TOKEN": "a", "SHOP_AUTH_SECRET": "b"}, "required"),
        (
            {
                "SHOP_ENV": "prod",
                "SHOP_ADMIN_TOKEN": "a",
                "SHOP_AUTH_SECRET": "b",
                "SHOP_AUTH": "off",
            },
            "off",
        ),
    ],
)
def test_auth_is_required_in_production_unless_turned_off(
    environ: dict[str, str], mode: str
) -> None:
    assert Settings.from_env(environ).auth == mode


@pytest.mark.parametrize(
    "environ",
    [
        {"SHOP_ENV": "prod"},  # no admin token in production
        {"SHOP_ENV": "prod", "SHOP_ADMIN_TOKEN": ""},
        {"SHOP_LOCK_BACKEND": "redis"},  # redis locks without redis
        {"SHOP_LOCK_BACKEND": "zookeeper"},
        {"SHOP_PORT": "eighty"},
        {"SHOP_DB_POOL_MAX": "0"},
        {"SHOP_ENV": "staging"},
        {"SHOP_ENV": "prod", "SHOP_ADMIN_TOKEN": "a"},  # default token secret in production
        {"SHOP_ENV": "prod", "SHOP_ADMIN_TOKEN": "a", "SHOP_AUTH_SECRET": ""},
        {"SHOP_AUTH": "maybe"},
        {"SHOP_TOKEN_TTL": "0"},
        # Token lifecycle (decision 0034).
        {
            "SHOP_ENV": "prod",
            "SHOP_ADMIN_TOKEN": "a",
            "SHOP_AUTH_SECRET": "b",
            "SHOP_TOKEN_TTL": "86401",
        },
        {
            "SHOP_ENV": "prod",
            "SHOP_ADMIN_TOKEN": "a",
            "SHOP_AUTH_SECRET": "b",
            "SHOP_LOADTEST_SECRET": "c",
        },
        {"SHOP_AUTH_SECRET": "same", "SHOP_LOADTEST_SECRET": "same"},
        {"SHOP_AUTH_KEY_ID": "loadtest"},
        {"SHOP_AUTH_KEY_ID": "has.dot"},
        {"SHOP_AUTH_ACCEPT_SECRET": "old", "SHOP_AUTH_ACCEPT_KEY_ID": "k1"},  # the same key id
        {"SHOP_AUTH_ACCEPT_SECRET": "dev-auth-secret", "SHOP_AUTH_ACCEPT_KEY_ID": "k0"},
        {"SHOP_TOKEN_REVOCATION_REFRESH": "0"},
        {"SHOP_IDEMPOTENCY_TTL": "0"},
        {"SHOP_ADMISSION": "maybe"},
        {"SHOP_ADMISSION_MIN_LIMIT": "65"},
        {"SHOP_ADMISSION_QUEUE_TARGET": "1"},
        {"SHOP_ORDER_BATCH_MAX": "0"},
        {"SHOP_ORDER_BATCH_PARALLEL": "65"},
    ],
)
def test_refuses_bad_configuration(environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(environ)


def test_every_field_is_settable_and_documented() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for f in fields(Settings):
        assert f"| `{env_var(f)}` |" in readme, env_var(f)
    assert Settings.from_env({"SHOP_SHUTDOWN_TIMEOUT": "3", "SHOP_MAX_BODY_BYTES": "10"}) == (
        Settings(shutdown_timeout=3.0, max_body_bytes=10)
    )
    traced = Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert traced.otlp_endpoint == "http://collector:4318"


def test_empty_numbers_and_urls_mean_unset() -> None:
    assert Settings.from_env({"SHOP_PORT": "", "SHOP_REDIS_URL": ""}) == Settings()
