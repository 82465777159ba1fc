"""docker/compose.yaml and docker/compose.twilio.yaml, checked without a Docker engine.

The Compose Specification's JSON schema catches misspelt or misplaced keys;
the rest of this file checks what a schema cannot: that names refer to each
other, that the load balancer knows every replica, and that the Twilio variant
keeps its secrets on the host.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gateway import server
from gateway.settings import load_settings
from tests.docker.files import (
    COMPOSE,
    COMPOSE_SPEC,
    COMPOSE_TWILIO,
    DOCKER,
    DOCKERFILE,
    NGINX_CONF,
    ROOT,
    active_services,
    depends_on,
    environment,
    load_compose,
    merge,
    nginx_bytes,
    nginx_directive,
    nginx_seconds,
    nginx_upstream_blocks,
    nginx_upstreams,
    parse_dockerfile,
    plain,
)

SID = re.compile(r"^AC[0-9a-f]{32}$")
#: Anything shaped like a Twilio SID or a 32-hex-digit auth token or secret.
CREDENTIAL_LIKE = re.compile(r"\b(?:[A-Z]{2})?[0-9a-fA-F]{32}\b")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(COMPOSE_SPEC.read_text())
    # The schema names its draft by an https URL that jsonschema does not map
    # to draft 7, so the draft is chosen here rather than looked up.
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.fixture(scope="module")
def local() -> dict[str, Any]:
    """The emulator stack: `docker compose -f docker/compose.yaml`."""
    return plain(load_compose(COMPOSE))


@pytest.fixture(scope="module")
def twilio() -> dict[str, Any]:
    """The Twilio stack: `-f docker/compose.yaml -f docker/compose.twilio.yaml`."""
    return merge(load_compose(COMPOSE), load_compose(COMPOSE_TWILIO))


def gateways(document: dict[str, Any]) -> dict[str, Any]:
    """Services that run the image's own command, `studio-gateway serve`."""
    return {
        name: service
        for name, service in active_services(document).items()
        if builds_the_image(service) and "command" not in service
    }


def builds_the_image(service: dict[str, Any]) -> bool:
    build = service.get("build")
    return (
        isinstance(build, dict)
        and (DOCKER / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    )


def interpolate(value: str, host: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}` against host variables."""

    def one(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2) or "", match.group(3) or ""
        current = host.get(name, "")
        if operator == ":?" and not current:
            raise LookupError(f"{name}: {argument}")
        if operator == ":-" and not current:
            return argument
        return current

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


# -- the files are well-formed ------------------------------------------------


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_TWILIO], ids=lambda p: p.name)
def test_file_follows_the_compose_specification(
    path: Any, validator: jsonschema.Draft7Validator
) -> None:
    errors = [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(plain(load_compose(path)))
    ]
    assert errors == []


def test_merged_twilio_stack_follows_the_compose_specification(
    twilio: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    assert [error.message for error in validator.iter_errors(twilio)] == []


def test_schema_rejects_what_compose_rejects(validator: jsonschema.Draft7Validator) -> None:
    # Guards the guard: a misspelt key must fail, or the tests above prove nothing.
    assert not validator.is_valid({"services": {"gateway": {"image": "x", "depend_on": ["y"]}}})


def test_twilio_override_only_changes_services_the_base_defines() -> None:
    base, override = load_compose(COMPOSE), load_compose(COMPOSE_TWILIO)
    assert set(override["services"]) <= set(base["services"])


# -- names refer to each other -------------------------------------------------


@pytest.mark.parametrize("stack", ["local", "twilio"])
def test_every_dependency_is_a_service_that_starts(
    stack: str, request: pytest.FixtureRequest
) -> None:
    document = request.getfixturevalue(stack)
    started = active_services(document)
    for name, service in started.items():
        for dependency, rule in depends_on(service).items():
            assert dependency in started, f"{name} depends on {dependency}, which does not start"
            assert rule.get("condition", "service_started") in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }


@pytest.mark.parametrize("stack", ["local", "twilio"])
def test_a_healthy_condition_waits_on_a_service_with_a_healthcheck(
    stack: str, request: pytest.FixtureRequest
) -> None:
    document = request.getfixturevalue(stack)
    services = active_services(document)
    image_healthcheck = parse_dockerfile().final.last("HEALTHCHECK")
    for name, service in services.items():
        for dependency, rule in depends_on(service).items():
            if rule.get("condition") != "service_healthy":
                continue
            target = services[dependency]
            if "healthcheck" in target:
                assert not target["healthcheck"].get("disable"), dependency
            else:
                # Only the image's own command answers the image's healthcheck
                # (port 8000); a service that runs another command needs its own.
                assert builds_the_image(target) and "command" not in target, (
                    f"{name} waits for {dependency} to be healthy, but it has no healthcheck"
                )
                assert image_healthcheck is not None


def test_images_are_built_from_this_repository(local: dict[str, Any]) -> None:
    built = {name: s for name, s in local["services"].items() if "build" in s}
    assert set(built) == {"emulator", "gateway-1", "gateway-2"}
    for service in built.values():
        assert builds_the_image(service)
        assert (DOCKER / service["build"]["context"]).resolve() == ROOT
    # One image, one tag: every service runs the same build.
    assert len({service["image"] for service in built.values()}) == 1


# -- the emulator stack ----------------------------------------------------------


def test_two_gateway_replicas_share_the_emulator_and_redis(local: dict[str, Any]) -> None:
    replicas = gateways(local)
    assert sorted(replicas) == ["gateway-1", "gateway-2"]
    emulator = local["services"]["emulator"]
    port = emulator["command"][emulator["command"].index("--port") + 1]
    assert emulator["command"][:2] == ["studio-gateway", "emulator"]
    for name, service in replicas.items():
        env = environment(service)
        assert env["STUDIO_GATEWAY_UPSTREAM_URL"] == f"http://emulator:{port}", name
        assert env["STUDIO_GATEWAY_REDIS_URL"] == "redis://redis:6379/0", name
        assert {"emulator", "redis"} <= set(depends_on(service)), name


def test_gateways_use_the_credentials_the_emulator_accepts(local: dict[str, Any]) -> None:
    emulator = environment(local["services"]["emulator"])
    assert emulator["TWILIO_ACCOUNT_SID"] and SID.match(emulator["TWILIO_ACCOUNT_SID"])
    assert emulator["TWILIO_AUTH_TOKEN"]
    for name, service in gateways(local).items():
        env = environment(service)
        assert env["TWILIO_ACCOUNT_SID"] == emulator["TWILIO_ACCOUNT_SID"], name
        assert env["TWILIO_AUTH_TOKEN"] == emulator["TWILIO_AUTH_TOKEN"], name


def test_gateway_settings_load_from_the_emulator_stack(
    local: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_environment(monkeypatch, tmp_path, environment(local["services"]["gateway-1"]))
    settings = load_settings()
    emulator = environment(local["services"]["emulator"])
    assert settings.base_url() == "http://emulator:8900"
    assert settings.credentials().basic_auth == (
        emulator["TWILIO_ACCOUNT_SID"],
        emulator["TWILIO_AUTH_TOKEN"],
    )
    assert settings.redis_url == "redis://redis:6379/0"


def test_redis_is_a_cache_that_keeps_nothing(local: dict[str, Any]) -> None:
    redis = local["services"]["redis"]
    assert redis["image"].startswith("redis:")
    assert redis["command"][redis["command"].index("--save") + 1] == ""
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "no"


# -- the load balancer -------------------------------------------------------------


def test_load_balancer_round_robins_over_every_replica(local: dict[str, Any]) -> None:
    text = NGINX_CONF.read_text()
    upstreams = nginx_upstreams(text)
    assert len(upstreams) == 1
    (name, servers), *_ = upstreams.items()
    expose = parse_dockerfile().final.last("EXPOSE")
    assert expose is not None
    assert sorted(servers) == [f"{replica}:{expose.args}" for replica in sorted(gateways(local))]
    assert re.search(rf"proxy_pass\s+http://{re.escape(name)}\s*;", text)
    # nginx's default method is round robin; any of these would replace it.
    assert not re.search(r"^\s*(least_conn|ip_hash|hash|random)\b", text, re.M)


def test_load_balancer_is_published_on_8080_after_the_replicas_are_healthy(
    local: dict[str, Any],
) -> None:
    nginx = local["services"]["nginx"]
    assert nginx["image"].startswith("nginx:")
    assert "8080:8080" in nginx["ports"]
    assert re.search(r"^\s*listen\s+8080\s*;", NGINX_CONF.read_text(), re.M)
    mounts = [volume.split(":") for volume in nginx["volumes"]]
    assert ["./nginx.conf", "/etc/nginx/conf.d/default.conf", "ro"] in mounts
    assert (DOCKER / "nginx.conf").is_file()
    deps = depends_on(nginx)
    assert {name: rule["condition"] for name, rule in deps.items()} == {
        name: "service_healthy" for name in gateways(local)
    }


def test_load_balancer_keeps_the_gateways_slow_client_bounds(
    local: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_environment(monkeypatch, tmp_path, environment(local["services"]["gateway-1"]))
    settings = load_settings()
    text = NGINX_CONF.read_text()

    def one(name: str) -> list[str]:
        found = nginx_directive(text, name)
        assert len(found) == 1, f"nginx.conf should set {name} once, not {len(found)} times"
        return found[0]

    # A half-sent header block is dropped at the proxy as soon as at a replica.
    assert nginx_seconds(one("client_header_timeout")[0]) == settings.header_timeout
    # A stalled body too (nginx's default would wait 60 s between reads).
    assert nginx_seconds(one("client_body_timeout")[0]) <= settings.header_timeout
    # A body the gateway would refuse is refused at the proxy, not bigger or smaller.
    assert nginx_bytes(one("client_max_body_size")[0]) == settings.max_body_bytes
    # One address cannot take a replica's whole connection bound.
    zone = one("limit_conn_zone")
    name, limit = one("limit_conn")
    assert zone[0] == "$binary_remote_addr" and f"zone={name}:" in zone[1]
    assert int(limit) < settings.max_connections
    # Idle upstream connections end at nginx first, never under a request.
    (block,) = nginx_upstream_blocks(text).values()
    (keepalive,) = nginx_directive(block, "keepalive_timeout")
    assert nginx_seconds(keepalive[0]) < server.KEEP_ALIVE_TIMEOUT


def test_only_the_load_balancer_is_published(local: dict[str, Any]) -> None:
    published = {name for name, service in local["services"].items() if service.get("ports")}
    assert published == {"nginx"}


# -- the Twilio stack ------------------------------------------------------------


def test_twilio_stack_runs_without_the_emulator(twilio: dict[str, Any]) -> None:
    started = active_services(twilio)
    assert "emulator" not in started
    assert sorted(gateways(twilio)) == ["gateway-1", "gateway-2"]
    for name, service in gateways(twilio).items():
        assert set(depends_on(service)) == {"redis"}, name
        assert environment(service)["STUDIO_GATEWAY_UPSTREAM_URL"] == "", name
        assert environment(service)["STUDIO_GATEWAY_REDIS_URL"] == "redis://redis:6379/0", name


def test_twilio_credentials_come_from_the_host(twilio: dict[str, Any]) -> None:
    required = ("TWILIO_ACCOUNT_SID", "TWILIO_API_KEY", "TWILIO_API_SECRET")
    for name, service in gateways(twilio).items():
        env = environment(service)
        for variable in required:
            assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[variable] or ""), (
                f"{name}: {variable} must be ${{{variable}:?message}}"
            )
        assert env["TWILIO_AUTH_TOKEN"] == "", f"{name}: the emulator's token must be cleared"
        with pytest.raises(LookupError, match="TWILIO_API_SECRET"):
            interpolate(env["TWILIO_API_SECRET"] or "", {})


def test_twilio_override_holds_no_secret() -> None:
    text = COMPOSE_TWILIO.read_text()
    assert not CREDENTIAL_LIKE.search(text)
    for service in load_compose(COMPOSE_TWILIO)["services"].values():
        for variable, value in environment(service).items():
            if value and variable.startswith("TWILIO_"):
                assert value.startswith("${") and value.endswith("}"), variable


def test_gateway_settings_load_from_the_twilio_stack(
    twilio: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    host = {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_API_KEY": "SK" + "2" * 32,
        "TWILIO_API_SECRET": "host-secret",
        "STUDIO_GATEWAY_API_KEYS": json.dumps(
            [{"name": "app", "sha256": "a" * 64, "scopes": ["flows:read"]}]
        ),
    }
    env = {
        name: interpolate(value or "", host)
        for name, value in environment(twilio["services"]["gateway-1"]).items()
    }
    use_environment(monkeypatch, tmp_path, env)
    settings = load_settings()
    assert settings.base_url() == "https://studio.twilio.com"
    credentials = settings.credentials()
    assert credentials.account_sid == host["TWILIO_ACCOUNT_SID"]
    assert credentials.basic_auth == (host["TWILIO_API_KEY"], host["TWILIO_API_SECRET"])
    # Real data on a public port: callers must authenticate.
    assert settings.auth == "api_keys" and not settings.allow_unauthenticated


def use_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str | None]
) -> None:
    """The process environment a container would get: these variables, no `.env`."""
    for name in list(os.environ):
        if name.startswith(("TWILIO_", "STUDIO_GATEWAY_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
