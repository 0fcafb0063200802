"""compose.yaml run as users run it, on this machine's dockerd, under a project of its own.

The stack gets its own project name, its own secrets (deploy/env.sh into a file of the run) and
free loopback ports, so a user's `make up` on the same engine is never touched. Where no
registry is reachable (LOCAL=1, the default) compose.local.yaml swaps in the images built from
Debian's packages and the `full` profile (Grafana, the collector, Jaeger) stays off.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
REPLICAS = ("shop-1", "shop-2", "shop-3")
PUBLISHED = ("LB_PORT", "PROMETHEUS_PORT", "ALERTMANAGER_PORT", "LOCUST_UI_PORT")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(check: Callable[[], T], seconds: float, what: str, every: float = 0.5) -> T:
    """The first truthy answer of `check` within `seconds`, else a failure naming `what`."""
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:g} s")
        time.sleep(every)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: Any

    @property
    def problem_code(self) -> str | None:
        """The shop's problem+json `code` (HAProxy's own error pages have none)."""
        if not self.headers.get("content-type", "").startswith("application/problem+json"):
            return None
        return str(self.body.get("code"))


def request(
    url: str,
    method: str = "GET",
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    tls: ssl.SSLContext | None = None,
) -> Answer:
    """One HTTP exchange (HTTPS verified by `tls`); connection failures are status 0."""
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=15, context=tls) as response:
            status, got, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, got, raw = exc.code, exc.headers, exc.read()
    except OSError:
        return Answer(0, {}, None)
    try:
        parsed: Any = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return Answer(status, {k.lower(): v for k, v in got.items()}, parsed)


@dataclass
class Stack:
    """One compose project: its files, its .env, its ports; `up`, `down`, HTTP to what it
    publishes, commands inside its containers."""

    workdir: Path
    local: bool = os.environ.get("LOCAL", "1") == "1"
    project: str = field(default_factory=lambda: f"shoptest{uuid.uuid4().hex[:8]}")
    ports: dict[str, int] = field(default_factory=lambda: {p: free_port() for p in PUBLISHED})
    startup_seconds: float = 0.0
    # What the drills measured, for the report at the end.
    drills: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env_file = self.workdir / "stack.env"
        subprocess.run([str(ROOT / "deploy" / "env.sh"), str(self.env_file)], check=True)
        self.secrets = dict(
            line.split("=", 1)
            for line in self.env_file.read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )

    def environ(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, **{k: str(v) for k, v in self.ports.items()}, **extra}
        if self.local:
            env.update(COMPOSE_PROFILES="", OTLP_ENDPOINT="")
        return env

    def compose(self, *args: str, check: bool = True, **extra: str) -> str:
        files = ["-f", str(ROOT / "compose.yaml")]
        if self.local:
            files += ["-f", str(ROOT / "compose.local.yaml")]
        command = [
            "docker-compose",
            "--project-directory",
            str(ROOT),
            "-p",
            self.project,
            "--env-file",
            str(self.env_file),
            *files,
            *args,
        ]
        result = subprocess.run(
            command, env=self.environ(**extra), capture_output=True, text=True, timeout=600
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)}: {result.stdout}\n{result.stderr}")
        return result.stdout

    def container(self, service: str, index: int = 1) -> str:
        return f"{self.project}_{service}_{index}"

    def docker(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {result.stderr}")
        return result.stdout

    def logs(self, container: str) -> str:
        """A container's output, both streams (locust prints its summary on stderr)."""
        result = subprocess.run(
            ["docker", "logs", container], capture_output=True, text=True, timeout=60
        )
        return result.stdout + result.stderr

    def health(self, service: str) -> str:
        return self.docker(
            "inspect", "-f", "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}"
            "{{end}}", self.container(service), check=False
        ).strip()  # fmt: skip

    def url(self, port: str) -> str:
        scheme = "https" if port == "LB_PORT" else "http"
        return f"{scheme}://127.0.0.1:{self.ports[port]}"

    @functools.cached_property
    def tls(self) -> ssl.SSLContext:
        """A client context trusting only the CA the stack made on its first start."""
        ca = self.compose("exec", "-T", "lb", "cat", "/usr/local/etc/haproxy/tls/ca.crt")
        return ssl.create_default_context(cadata=ca)

    def lb(self, method: str, path: str, body: Any = None, **headers: str) -> Answer:
        return request(f"{self.url('LB_PORT')}{path}", method, body, headers, self.tls)

    def admin(self, method: str, path: str, body: Any = None) -> Answer:
        token = self.secrets["SHOP_ADMIN_TOKEN"]
        return self.lb(method, path, body, Authorization=f"Bearer {token}")

    def prometheus(self, path: str) -> Any:
        answer = request(f"{self.url('PROMETHEUS_PORT')}{path}")
        assert answer.status == 200, answer
        return answer.body["data"]

    def sql(self, statement: str) -> str:
        """One statement as root inside the MariaDB container; its tab-separated answer."""
        return self.compose(
            "exec", "-T", "mariadb", "mariadb", "-uroot",
            f"-p{self.secrets['MARIADB_ROOT_PASSWORD']}", "-N", "-B", "shop", "-e", statement,
        ).strip()  # fmt: skip

    def haproxy_servers(self) -> dict[tuple[str, str], str]:
        """(backend, server) -> UP/DOWN/..., from HAProxy's stats inside the network."""
        raw = self.compose(
            "exec", "-T", "lb", "wget", "-q", "-O", "-", "http://127.0.0.1:8404/stats;csv"
        )  # fmt: skip
        rows = csv.DictReader(io.StringIO(raw.lstrip("# ")))
        return {
            (row["pxname"], row["svname"]): row["status"]
            for row in rows
            if row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def audit(self) -> tuple[int, str]:
        """The load test's consistency audit (`python -m loadtest audit`) over the compose network
        as the app's user: (exit code, report). A run that printed no verdict is no audit."""
        db = f"mysql://shop:{self.secrets['SHOP_DB_PASSWORD']}@mariadb:3306/shop"
        result = subprocess.run(
            [
                "docker", "run", "--rm", "--network", f"{self.project}_default",
                "--entrypoint", "python", "shop-loadtest:local", "-m", "loadtest", "audit",
                "--db-url", db,
            ],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        report = result.stdout + result.stderr
        assert "consistency audit" in report, report
        return result.returncode, report

    def up(self, *services: str) -> float:
        """`up -d`; seconds until every replica is healthy behind a healthy load balancer."""
        started = time.monotonic()
        self.compose("up", "-d", *services)
        until(
            lambda: all(self.health(s) == "running/healthy" for s in (*REPLICAS, "lb")),
            180,
            "replicas and load balancer healthy",
        )
        return time.monotonic() - started

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", check=False)

    def leftovers(self) -> dict[str, list[str]]:
        """What the engine still holds under this project's label."""
        label = f"label=com.docker.compose.project={self.project}"
        return {
            kind: self.docker(*command, "--filter", label, "-q").split()
            for kind, command in {
                "containers": ("ps", "-a"),
                "volumes": ("volume", "ls"),
                "networks": ("network", "ls"),
            }.items()
        }
