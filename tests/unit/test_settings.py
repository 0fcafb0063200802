"""Settings from the environment."""

from __future__ import annotations

import pytest

from shop.settings import Settings, SettingsError


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
    ],
)
def test_refuses_bad_configuration(environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(environ)
