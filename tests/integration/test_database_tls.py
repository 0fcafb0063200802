"""TLS to MariaDB: a private mariadbd with a certificate of its own, verified or refused."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from loadtest.harness.servers import MariaDbServer
from shop.adapters.mysql.migrations import migrate
from shop.adapters.mysql.pool import Database, parse_db_url
from shop.domain.errors import DatabaseUnavailable


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _authority(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", cert, "-days", "1", "-subj", f"/CN={name}",
    )  # fmt: skip
    return cert, key


def _server_certificate(folder: Path, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    """Issued for 127.0.0.1 only (not `localhost`), so a name check has something to refuse."""
    cert, key, csr, ext = (folder / f"server.{kind}" for kind in ("pem", "key", "csr", "ext"))
    ext.write_text("subjectAltName = IP:127.0.0.1\n")
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
        "-out", cert, "-days", "1", "-extfile", ext,
    )  # fmt: skip
    return cert, key


class TlsMariaDb(MariaDbServer):
    """A private mariadbd that offers TLS with the given certificate."""

    def __init__(self, cert: Path, key: Path, ca: Path) -> None:
        super().__init__()
        self.tls = [f"--ssl-cert={cert}", f"--ssl-key={key}", f"--ssl-ca={ca}"]

    def command(self) -> list[str]:
        return [*super().command(), *self.tls]


class Pki:
    def __init__(self, folder: Path) -> None:
        self.ca = _authority(folder, "shop-test-ca")
        self.other_ca = _authority(folder, "another-ca")
        self.server = _server_certificate(folder, self.ca)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server(pki: Pki) -> Iterator[TlsMariaDb]:
    with TlsMariaDb(*pki.server, pki.ca[0]) as started:
        yield started


def _url(
    server: TlsMariaDb, host: str = "127.0.0.1", database: str = "mysql", **options: str | Path
) -> str:
    query = urlencode({name.replace("_", "-"): str(value) for name, value in options.items()})
    return f"mysql://root:@{host}:{server.port}/{database}?{query}"


async def _cipher(url: str) -> str:
    database = await Database.connect(url, maxsize=1)
    try:
        async with database.session() as session:
            rows = await session.fetch_all("test.tls", "SHOW SESSION STATUS LIKE 'Ssl_version'", ())
            return str(rows[0][1])
    finally:
        await database.close()


async def test_a_verified_connection_is_encrypted_and_migrates(
    pki: Pki, server: TlsMariaDb
) -> None:
    url = _url(server, ssl_ca=pki.ca[0], ssl_mode="VERIFY_IDENTITY")
    assert await migrate(_url(server, database="shop_tls", ssl_ca=pki.ca[0]))
    assert (await _cipher(url)).startswith("TLSv1.")
    # Without options the same server is reached in plain text (the default stays DISABLED).
    assert await _cipher(_url(server)) == ""


@pytest.mark.parametrize("mode", ["VERIFY_CA", "VERIFY_IDENTITY"])
async def test_a_certificate_of_another_authority_is_refused(
    pki: Pki, server: TlsMariaDb, mode: str
) -> None:
    url = _url(server, ssl_ca=pki.other_ca[0], ssl_mode=mode)
    with pytest.raises(DatabaseUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        await Database.connect(url, maxsize=1)
    with pytest.raises(DatabaseUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        await migrate(url)


async def test_a_certificate_for_another_host_is_refused_unless_only_the_ca_is_checked(
    pki: Pki, server: TlsMariaDb
) -> None:
    with pytest.raises(DatabaseUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        await Database.connect(_url(server, "localhost", ssl_ca=pki.ca[0]), maxsize=1)
    verify_ca = _url(server, "localhost", ssl_ca=pki.ca[0], ssl_mode="VERIFY_CA")
    assert (await _cipher(verify_ca)).startswith("TLSv1.")


async def test_a_server_without_tls_is_refused_before_any_statement(test_database: str) -> None:
    """The shared server offers no TLS: aiomysql alone would carry on in plain text."""
    url = f"{test_database}?ssl-mode=REQUIRED"
    with pytest.raises(DatabaseUnavailable, match="did not offer TLS"):
        await Database.connect(url, maxsize=1)
    with pytest.raises(DatabaseUnavailable, match="did not offer TLS"):
        await migrate(url)


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("sslmode=REQUIRED", "unknown database URL option"),
        ("ssl-mode=PREFERRED", "ssl-mode must be one of"),
        ("ssl-cert=/c.pem", "go together"),
    ],
)
def test_options_that_would_weaken_tls_silently_are_refused(query: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_db_url(f"mysql://root:@127.0.0.1/shop?{query}")


def test_any_ssl_option_means_verify_identity() -> None:
    target = parse_db_url("mysql://root:@db/shop?ssl-ca=/ca.pem")
    assert target.tls is not None
    assert target.tls.mode == "VERIFY_IDENTITY"
    assert parse_db_url("mysql://root:@db/shop?ssl-mode=disabled").tls is None
