"""The full stack's compose file and the shop's Dockerfile, checked without a Docker engine:
every service the stack needs, images pinned, mounted files present, host ports unique, health
checks and start-up order; `docker compose config` too where the plugin exists."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from loadtest.bench.overload import BOUNDS
from loadtest.harness import proxy
from shop.api.framework.http_errors import Overloaded
from shop.api.framework.problems import STATUS_AND_TITLE
from shop.settings import Settings

from .stack_files import COMPOSE_TARGETS, ROOT, load_yaml

COMPOSE = ROOT / "compose.yaml"
SERVICES = {
    "mariadb", "redis", "migrate", "shop-1", "shop-2", "shop-3", "lb", "mysqld-exporter",
    "redis-exporter", "prometheus", "alertmanager", "grafana", "otel-collector", "jaeger",
    "locust-master", "locust-worker", "tls",
}  # fmt: skip
REPLICAS = ("shop-1", "shop-2", "shop-3")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return dict(load_yaml(COMPOSE)["services"])


def test_the_stack_has_every_service(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES


def test_every_image_is_pinned_to_a_version(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service["image"]
        if "build" in service:
            assert image.endswith(":local"), name  # built here, never pulled
            continue
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        assert tag != "latest", name
        assert re.search(r"\d+\.\d+", tag), f"{name}: {image} names no version"


def test_every_mounted_file_exists(services: dict[str, dict[str, Any]]) -> None:
    named = set(load_yaml(COMPOSE).get("volumes") or {})
    mounts = [
        (name, volume.split(":")[0])
        for name, service in services.items()
        for volume in service.get("volumes", [])
    ]
    assert mounts
    for name, source in mounts:
        if source in named:
            continue
        assert source.startswith("./"), f"{name}: only files of this repository are mounted"
        assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_only_the_uis_are_published_and_only_on_loopback(
    services: dict[str, dict[str, Any]],
) -> None:
    published: dict[str, int] = {}
    for name, service in services.items():
        for port in service.get("ports", []):
            # "127.0.0.1:${LB_PORT:-8443}:8443": loopback only, on a port a user can move.
            default = re.fullmatch(r"127\.0\.0\.1:\$\{\w+:-(\d+)\}:\d+", str(port))
            assert default, f"{name} publishes {port}: not on loopback, or on a fixed port"
            published[name] = int(default.group(1))
    assert len(set(published.values())) == len(published)
    assert published == {
        "lb": 8443, "locust-master": 8089, "prometheus": 9090, "alertmanager": 9093,
        "grafana": 3000, "jaeger": 16686,
    }  # fmt: skip


def test_secrets_come_from_the_environment_without_defaults() -> None:
    text = COMPOSE.read_text()
    for secret in ("SHOP_ADMIN_TOKEN", "SHOP_AUTH_SECRET", "MARIADB_ROOT_PASSWORD",
                   "SHOP_DB_PASSWORD", "SHOP_MIGRATE_PASSWORD", "MYSQLD_EXPORTER_PASSWORD",
                   "REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):  # fmt: skip
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses, secret
        assert not any(use.startswith((":-", "-")) for use in uses), f"{secret} has a default"
    assert "/.env" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_local_override_only_swaps_images(services: dict[str, dict[str, Any]]) -> None:
    local = load_yaml(ROOT / "compose.local.yaml")["services"]
    for name, override in local.items():
        assert name in services
        if "build" in services[name]:
            assert override == {"build": {"args": {"PYTHON": "shop-local/python:bookworm"}}}
        else:
            assert override == {"image": f"shop-local/{override['image'].split('/')[1]}"}
    third_party = {name for name, service in services.items() if "build" not in service}
    assert third_party - set(local) == {"grafana", "otel-collector", "jaeger"}
    for name in ("grafana", "otel-collector", "jaeger"):
        assert services[name]["profiles"] == ["full"]


def test_replicas_start_after_the_one_shot_migration_on_the_redis_lock_backend(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["migrate"]["restart"] == "no"
    assert "migrate" in " ".join(services["migrate"]["command"])
    for name in REPLICAS:
        replica = services[name]
        assert replica["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert replica["depends_on"]["redis"] == {"condition": "service_healthy"}
        assert replica["environment"]["SHOP_LOCK_BACKEND"] == "redis"
        assert replica["environment"]["SHOP_ENV"] == "${SHOP_ENV:-dev}"  # a lab, explicitly
        assert "http://otel-collector:" in replica["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert {name: dep["condition"] for name, dep in services["lb"]["depends_on"].items()} == {
        **dict.fromkeys(REPLICAS, "service_healthy"),
        "tls": "service_completed_successfully",
    }


def test_every_dependency_names_a_condition_on_a_real_service(
    services: dict[str, dict[str, Any]],
) -> None:
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            assert rule["condition"] in conditions, (name, dependency)
            if rule["condition"] == "service_healthy":
                healthy = "healthcheck" in services[dependency] or dependency in REPLICAS
                assert healthy, f"{name} waits for {dependency}, which has no health check"


def test_load_balancer_routes_on_readiness_and_falls_back_to_liveness() -> None:
    config = (ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text()
    backends = dict(re.findall(r"^backend (\S+)\n((?:    .*\n)+)", config, re.M))
    assert set(backends) == {"ready", "batched", "live", "ops"}
    assert "option httpchk GET /readyz" in backends["ready"]
    assert "option httpchk GET /readyz" in backends["batched"]
    assert "option httpchk GET /healthz" in backends["live"]
    assert "option httpchk GET /healthz" in backends["ops"]
    for body in backends.values():
        servers = re.findall(r"^\s*server (\S+) (\S+) check(?: maxconn \d+)?$", body, re.M)
        assert servers == [(name, f"{name}:8081") for name in REPLICAS]
    assert "default_backend ready" in config
    assert "use_backend live if { nbsrv(ready) eq 0 }" in config


def _frontends(config: str) -> dict[str, str]:
    return dict(re.findall(r"^frontend (\S+)\n((?:    .*\n)+)", config, re.M))


def test_the_published_door_is_tls_with_a_certificate_made_at_first_start(
    services: dict[str, dict[str, Any]],
) -> None:
    frontends = _frontends((ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text())
    [bind] = re.findall(r"^\s*bind (.*)$", frontends["shop"], re.M)
    assert bind.startswith(":8443 ssl crt /usr/local/etc/haproxy/tls/shop.pem"), bind
    assert services["lb"]["ports"] == ["127.0.0.1:${LB_PORT:-8443}:8443"]
    # Plain HTTP only inside the network, for locust.
    assert re.findall(r"^\s*bind (.*)$", frontends["internal"], re.M) == [":8080"]
    for name in ("locust-master", "locust-worker"):
        assert "--host=http://lb:8080" in services[name]["command"], name
    # The certificate: made by the one-shot into a volume only it and the load balancer mount.
    tls = services["tls"]
    assert tls["restart"] == "no"
    assert tls["volumes"] == ["./deploy/haproxy/tls.sh:/usr/local/bin/tls.sh:ro", "tls:/tls"]
    assert "tls:/usr/local/etc/haproxy/tls:ro" in services["lb"]["volumes"]
    assert services["lb"]["depends_on"]["tls"] == {"condition": "service_completed_successfully"}
    mounting = [
        n for n, s in services.items() if any(v.startswith("tls:") for v in s.get("volumes", []))
    ]
    assert sorted(mounting) == ["lb", "tls"]
    assert (
        "Strict-Transport-Security" not in (ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text()
    )


def test_the_public_door_refuses_a_flooding_source_with_the_shops_problem() -> None:
    frontends = _frontends((ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text())
    public = frontends["shop"]
    assert "http-request track-sc0 src" in public
    [rule] = re.findall(r"^\s*http-request return status 429 (.*)$", public, re.M)
    limit = int(re.search(r"if \{ sc_http_req_rate\(0\) gt (\d+) \}$", rule).group(1))
    assert re.search(r"store http_req_rate\(10s\)", public)
    assert limit >= 1_000  # generous: 100 a second and more from one address
    assert "content-type application/problem+json" in rule
    assert "hdr Retry-After 10 " in rule
    # The body, its log-format fields filled in, is the shop's COMMON007 problem.
    body = re.search(r"lf-string '([^']*)'", rule).group(1)
    filled = re.sub(r"%\[[^\]]*\]", "x", body)
    problem = json.loads(filled)
    assert (problem["status"], problem["code"], problem["title"]) == (
        429,
        "COMMON007",
        "Too many requests",
    )
    assert f"more than {limit} requests in 10 s" in problem["detail"]
    # The stack's own load generators come in on the internal door, without the limit.
    assert "track-sc" not in frontends["internal"]


def _overloaded(rule: str) -> dict[str, Any]:
    """The problem an HAProxy answer renders, its log-format fields filled in."""
    assert "content-type application/problem+json hdr Retry-After 1 " in rule, rule
    body = re.search(r"lf-string '([^']*)'", rule).group(1)
    problem: dict[str, Any] = json.loads(re.sub(r"%\[[^\]]*\]", "x", body))
    status, title = STATUS_AND_TITLE[Overloaded]
    assert (problem["status"], problem["code"], problem["title"]) == (status, "OVERLOADED", title)
    assert problem["type"] == "https://shop.example/problems/overloaded"
    assert problem["detail"] == problem["message"]
    return problem


def test_overload_gets_the_load_balancers_fast_503_with_the_shops_problem() -> None:
    """Each replica holds at most the bench's measured `maxconn` of each route class (the
    group-committed writes apart); past a short queue, or a short wait in it, HAProxy refuses
    with the shop's own OVERLOADED problem before any replica sees the request."""
    config = (ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text()
    backends = dict(re.findall(r"^backend (\S+)\n((?:    .*\n)+)", config, re.M))
    bounded = {"ready": BOUNDS.other, "live": BOUNDS.other, "batched": BOUNDS.batched}
    for name, bounds in bounded.items():
        limits = re.findall(r"^\s*server \S+ \S+ check maxconn (\d+)$", backends[name], re.M)
        assert limits == [str(bounds.maxconn)] * len(REPLICAS), name
        [rule] = re.findall(r"^\s*http-request return status 503 (.*)$", backends[name], re.M)
        assert rule.endswith(f"if {{ queue ge {bounds.queue} }}"), name
        assert f"queue of {bounds.queue} full" in _overloaded(rule)["detail"]
        assert bounds.timeout_ms == BOUNDS.other.timeout_ms  # one `timeout queue` for all
    # What the shop never sheds (decision 0041) is neither bounded nor refused here.
    assert "maxconn" not in backends["ops"]
    assert "http-request return" not in backends["ops"]
    assert f"timeout queue {BOUNDS.other.timeout_ms}ms" in config
    [error] = re.findall(r"^\s*http-error status 503 (.*)$", config, re.M)
    assert f"within {BOUNDS.other.timeout_ms} ms" in _overloaded(error)["detail"]
    for name, frontend in _frontends(config).items():
        if name == "health":
            continue
        assert "http-request return status 503" not in frontend  # the backends refuse
        # What the shop never sheds and the group-committed writes, as the bench's proxy
        # routes them.
        acls = [f"acl {a}" for a in re.findall(r"^\s*acl (.*)$", frontend, re.M)]
        assert acls == [*proxy.NEVER_SHED, *proxy.BATCHED], name
        order = [
            frontend.index(line)
            for line in (
                "use_backend ops if never_shed",
                "use_backend live if { nbsrv(ready) eq 0 }",
                "use_backend batched if batched METH_POST",
                "default_backend ready",
            )
        ]
        assert order == sorted(order), name


def test_load_balancer_timeouts_agree_with_the_shops() -> None:
    """Slow and idle clients are cut at the door, never after the shop has given up on them, and
    the door waits longer than the slowest legitimate answer (a lock wait, then a connection)."""
    config = (ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text()
    timeouts = {
        name: float(value) for name, value in re.findall(r"^\s*timeout (\S+) (\d+)s$", config, re.M)
    }
    shop = Settings()
    assert timeouts["http-request"] <= shop.client_timeout
    assert timeouts["http-keep-alive"] < shop.keepalive_timeout
    slowest = shop.lock_wait + shop.db_acquire_timeout
    assert min(timeouts["client"], timeouts["server"]) > slowest


def test_prometheus_targets_name_the_compose_services(
    services: dict[str, dict[str, Any]],
) -> None:
    def hosts(job: str) -> list[str]:
        groups = json.loads((COMPOSE_TARGETS / f"{job}.json").read_text())
        return [target for group in groups for target in group["targets"]]

    assert hosts("shop") == [f"{name}:8081" for name in REPLICAS]
    assert hosts("locust") == ["locust-master:8089"]
    exporters = {"mysqld": "mysqld-exporter", "redis": "redis-exporter"}
    for job, service in {**exporters, "alertmanager": "alertmanager"}.items():
        [target] = hosts(job)
        assert target.split(":")[0] == service
        assert service in services
    assert hosts("prometheus") == ["localhost:9090"]


def test_grafana_datasources_point_at_compose_services(
    services: dict[str, dict[str, Any]],
) -> None:
    provisioned = load_yaml(ROOT / "grafana/provisioning/datasources/datasources.yml")
    urls = {source["uid"]: source["url"] for source in provisioned["datasources"]}
    assert urls == {"prometheus": "http://prometheus:9090", "jaeger": "http://jaeger:16686"}
    assert {"prometheus", "jaeger"} <= set(services)


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose is not installed here (make test-compose installs it)",
)
@pytest.mark.parametrize("files", [["compose.yaml"], ["compose.yaml", "compose.local.yaml"]])
def test_docker_compose_accepts_the_files(files: list[str], tmp_path: Path) -> None:
    env_file = tmp_path / "stack.env"
    subprocess.run([str(ROOT / "deploy" / "env.sh"), str(env_file)], check=True)
    result = subprocess.run(
        ["docker-compose", "--project-directory", str(ROOT), "--env-file", str(env_file),
         *(arg for name in files for arg in ("-f", str(ROOT / name))), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def _stages() -> list[tuple[str, str | None, list[str]]]:
    """(base image, stage name, instructions) per stage of the Dockerfile."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))
    stages: list[tuple[str, str | None, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            parts = line.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], parts[1])
            stages.append((base, parts[3] if len(parts) > 3 else None, []))
        elif line and not line.startswith("#") and stages:
            stages[-1][2].append(line)
    return stages


def test_dockerfile_is_multi_stage_on_a_pinned_base() -> None:
    stages = _stages()
    names = [name for _, name, _ in stages]
    assert {"build", "runtime", "loadtest"} <= set(names)
    for base, _, _ in stages:
        if base in names:
            continue
        assert re.search(r":\d+\.\d+\.\d+", base), f"{base} is not pinned to a patch release"


def test_runtime_runs_one_process_as_a_non_root_user_with_a_health_check() -> None:
    stages = {name: body for _, name, body in _stages() if name}
    runtime = stages["runtime"]
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users, "the runtime stage sets a user"
    assert users[-1] not in {"root", "0"}
    assert any(line.startswith("HEALTHCHECK ") and "/healthz" in line for line in runtime)
    [cmd] = [line for line in runtime if line.startswith("CMD ")]
    argv = json.loads(cmd.removeprefix("CMD "))
    assert argv == ["python", "-m", "shop", "serve"], "exec form, one process, no shell"
    # The image `docker build .` makes is the runtime one (the last stage).
    assert _stages()[-1][0] == "runtime"
