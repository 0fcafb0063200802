"""TLS to the database: the `ssl-*` options of SHOP_DB_URL, as the MySQL clients name them.

`mysql://user:pw@db.internal/shop?ssl-mode=VERIFY_IDENTITY&ssl-ca=/etc/shop/db-ca.pem` (plus
`ssl-cert`/`ssl-key` for a client certificate). Modes, weakest first: DISABLED (the default
without options), REQUIRED (encrypted, the certificate not checked), VERIFY_CA (signed by the
CA), VERIFY_IDENTITY (and issued for the host connected to; the default once any `ssl-*`
option is given). Every mode but DISABLED refuses a server that does not speak TLS.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from ...domain.errors import DatabaseUnavailable

MODES = ("DISABLED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY")
_FILES = ("ssl-ca", "ssl-cert", "ssl-key")


@dataclass(frozen=True, slots=True)
class TlsOptions:
    mode: str
    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @classmethod
    def from_query(cls, query: dict[str, list[str]]) -> TlsOptions | None:
        """The options of a URL's query; None for a plain connection. Unknown names are refused:
        a misspelt option must not quietly leave the connection unencrypted."""
        unknown = sorted(set(query) - {"ssl-mode", *_FILES})
        if unknown:
            raise ValueError(f"unknown database URL option(s) {', '.join(unknown)}")
        value = {name: values[-1] for name, values in query.items()}
        mode = value.get("ssl-mode", "VERIFY_IDENTITY" if value else "DISABLED").upper()
        if mode not in MODES:
            raise ValueError(f"ssl-mode must be one of {', '.join(MODES)}")
        if mode == "DISABLED":
            return None
        if ("ssl-cert" in value) != ("ssl-key" in value):
            raise ValueError("ssl-cert and ssl-key go together")
        return cls(mode, value.get("ssl-ca"), value.get("ssl-cert"), value.get("ssl-key"))

    def context(self) -> ssl.SSLContext:
        """The SSLContext aiomysql is given (`ssl=`); no CA file means the system's CAs."""
        context = ssl.create_default_context(cafile=self.ca)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.mode != "VERIFY_IDENTITY":
            context.check_hostname = False
        if self.mode == "REQUIRED":
            context.verify_mode = ssl.CERT_NONE
        if self.cert is not None:
            context.load_cert_chain(self.cert, self.key)
        return context


def require_tls(conn: Any) -> None:
    """Refuse a connection that is not encrypted (closing it).

    aiomysql carries on in plain text when the server's greeting does not offer TLS, so each
    connection is checked before its first statement. It exposes no public flag: `_secure` is
    set where it wraps the socket.
    """
    if not getattr(conn, "_secure", False):
        conn.close()
        raise DatabaseUnavailable("the database did not offer TLS, and SHOP_DB_URL requires it")
