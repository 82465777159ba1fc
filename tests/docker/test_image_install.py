"""The image's build and run steps, replayed on this machine without Docker.

A scratch directory stands in for the container's filesystem. The builder
stage's WORKDIR, COPY (filtered by .dockerignore) and RUN lines run there as
written, every absolute path moved under that directory, so the same pip
commands build the same wheel into a fresh virtualenv. Then the final stage's
CMD serves from that virtualenv, with the environment the compose stack gives
a replica, in front of the emulator the compose stack runs from the same
virtualenv; the HEALTHCHECK's own command probes it.

What this cannot see: the base image itself, the non-root user, and anything
Docker does (layers, networking). The build's `python` and `pip` here are the
test run's own interpreter and its pip, not the image's.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.graphiql import STATIC as GRAPHIQL
from tests.docker.files import (
    COMPOSE,
    ROOT,
    IgnoreRule,
    Instruction,
    environment,
    ignore_rules,
    is_ignored,
    load_compose,
    parse_dockerfile,
    plain,
)
from tests.support import free_port

#: An absolute path inside a command (not `$PATH`-style references or URLs).
ABSOLUTE_PATH = re.compile(r"(?<![\w$}:/.])/[^\s'\";:]+")
#: Variables of the test run that must not reach the servers.
NOT_INHERITED = ("TWILIO_", "STUDIO_GATEWAY_", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


@dataclass
class Image:
    """The final stage, laid out under `root` as it is under `/` in a container."""

    root: Path
    env: dict[str, str]
    workdir: Path
    command: list[str]
    healthcheck: list[str]

    def path(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def rewrite(self, text: str) -> str:
        return ABSOLUTE_PATH.sub(lambda match: str(self.path(match.group(0))), text)

    def run(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, env=self.env, cwd=self.workdir, capture_output=True, text=True, **kwargs
        )


@dataclass
class Stack:
    gateway: str
    gateway_port: int
    emulator_port: int
    emulator_healthcheck: list[str]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    dockerfile = parse_dockerfile()
    root = tmp_path_factory.mktemp("image")
    image = Image(root=root, env={}, workdir=root, command=[], healthcheck=[])
    build(image, dockerfile.stage("builder").instructions, tmp_path_factory.mktemp("logs"))

    final = dockerfile.final
    for copy in final.all("COPY"):
        # --from=builder copies a path to the same path: here it is already in place.
        source, target = shlex.split(copy.body())
        assert copy.flags() == {"from": "builder"} and source == target
    env = inherited_environment()
    for name, value in final.env().items():
        env[name] = image.rewrite(value).replace("$PATH", env.get("PATH", os.defpath))
    workdir = final.last("WORKDIR")
    command = final.last("CMD")
    healthcheck = final.last("HEALTHCHECK")
    assert workdir and command and healthcheck
    image.env = env
    image.workdir = image.path(workdir.args)
    image.workdir.mkdir(parents=True, exist_ok=True)
    image.command = command.exec_form() or []
    image.healthcheck = healthcheck.exec_form() or []
    return image


def build(image: Image, steps: list[Instruction], logs: Path) -> None:
    """Replay the builder stage's instructions under `image.root`."""
    rules = ignore_rules()
    workdir = "/"
    env = inherited_environment()
    # The build runs on the test's interpreter: `python` and `pip` are its own.
    bin_dir = Path(sys.executable).parent
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", os.defpath)])
    assert shutil.which("pip", path=env["PATH"]) == str(bin_dir / "pip"), (
        "run the tests with the project virtualenv's python, which has pip beside it"
    )
    for step in steps:
        if step.keyword == "ENV":
            env.update({key: image.rewrite(value) for key, value in _env(step).items()})
        elif step.keyword == "WORKDIR":
            workdir = posixpath.join(workdir, step.args)
            image.path(workdir).mkdir(parents=True, exist_ok=True)
        elif step.keyword == "COPY":
            copy_from_context(step, image.path(workdir), rules)
        elif step.keyword == "RUN":
            command = image.rewrite(step.args)
            log = logs / f"run-{step.line}.log"
            with log.open("w") as output:
                result = subprocess.run(
                    ["sh", "-c", command],
                    cwd=image.path(workdir),
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    timeout=300,
                )
            assert result.returncode == 0, (
                f"Dockerfile line {step.line}: {step.args}\n{log.read_text()[-4000:]}"
            )
        else:
            pytest.fail(f"Dockerfile line {step.line}: the replay does not know {step.keyword}")


def _env(step: Instruction) -> dict[str, str]:
    return dict(item.partition("=")[::2] for item in shlex.split(step.args))


def copy_from_context(step: Instruction, workdir: Path, rules: list[IgnoreRule]) -> None:
    """COPY from the build context, which .dockerignore filters."""
    assert not step.flags(), f"line {step.line}: the replay copies from the context only"
    *sources, target = shlex.split(step.body())
    destination = workdir / target
    for source in sources:
        origin = ROOT / source
        if origin.is_dir():
            for file in sorted(origin.rglob("*")):
                relative = file.relative_to(ROOT).as_posix()
                if file.is_file() and not is_ignored(relative, rules):
                    landing = destination / file.relative_to(origin)
                    landing.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, landing)
        else:
            assert not is_ignored(source, rules), f"{source} is not in the build context"
            landing = destination / origin.name if target.endswith("/") else destination
            landing.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, landing)


def inherited_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith(NOT_INHERITED)}


@contextlib.contextmanager
def running(argv: list[str], *, image: Image, env: dict[str, str], log: Path) -> Iterator[Any]:
    """A server process, stopped (SIGTERM, then SIGKILL) however the test ends."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv, env=env, cwd=image.workdir, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_until(ready: Callable[[], bool], process: Any, log: Path, what: str) -> None:
    deadline = time.monotonic() + 30
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not come up in 30 s:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def on_loopback(argv: list[str], port: int) -> list[str]:
    """A server command moved to 127.0.0.1 and the given port."""
    argv = list(argv)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = str(port)
    return argv


@pytest.fixture(scope="module")
def stack(image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The emulator and one gateway replica as compose.yaml runs them, on loopback."""
    compose = plain(load_compose(COMPOSE))
    emulator_service = compose["services"]["emulator"]
    replica = compose["services"]["gateway-1"]
    logs = tmp_path_factory.mktemp("servers")
    emulator_port, gateway_port = free_port(), free_port()
    container_port = emulator_service["command"][emulator_service["command"].index("--port") + 1]

    emulator_env = {**image.env, **_strings(environment(emulator_service))}
    gateway_env = {**image.env, **_strings(environment(replica))}
    gateway_env["STUDIO_GATEWAY_UPSTREAM_URL"] = f"http://127.0.0.1:{emulator_port}"
    # No Redis here: the replica falls back to its in-process cache.
    del gateway_env["STUDIO_GATEWAY_REDIS_URL"]

    emulator_log, gateway_log = logs / "emulator.log", logs / "gateway.log"
    emulator_argv = on_loopback(emulator_service["command"], emulator_port)
    with running(emulator_argv, image=image, env=emulator_env, log=emulator_log) as emulator:
        wait_until(lambda: listening(emulator_port), emulator, emulator_log, "the emulator")
        argv = on_loopback(image.command, gateway_port)
        with running(argv, image=image, env=gateway_env, log=gateway_log) as gateway:
            url = f"http://127.0.0.1:{gateway_port}"
            wait_until(lambda: healthy(url), gateway, gateway_log, "the gateway")
            check = emulator_service["healthcheck"]["test"]
            assert check[0] == "CMD"
            yield Stack(
                gateway=url,
                gateway_port=gateway_port,
                emulator_port=emulator_port,
                emulator_healthcheck=[
                    part.replace(container_port, str(emulator_port)) for part in check[1:]
                ],
            )


def _strings(env: dict[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in env.items() if value is not None}


def healthcheck_on(image: Image, port: int) -> list[str]:
    """The image's HEALTHCHECK command, aimed at a port on this machine."""
    return [part.replace(":8000/", f":{port}/") for part in image.healthcheck]


# -- the build ------------------------------------------------------------------


def test_the_wheel_installs_with_its_dependencies_into_a_virtualenv(image: Image) -> None:
    result = image.run(
        ["python", "-c", "import gateway, strawberry, uvicorn, redis; print(gateway.__file__)"]
    )
    assert result.returncode == 0, result.stderr
    installed = Path(result.stdout.strip())
    assert installed.is_relative_to(image.path("/opt/venv")), "imported from outside the image"
    assert installed.parent.parent.name == "site-packages"


def test_the_virtualenv_has_no_pip_and_the_wheel_only_the_package(image: Image) -> None:
    venv = image.path("/opt/venv")
    assert (venv / "bin" / "studio-gateway").is_file()
    assert not list((venv / "bin").glob("pip*"))
    (record,) = venv.glob("lib/python*/site-packages/studio_gateway-*.dist-info/RECORD")
    files = [line.split(",")[0] for line in record.read_text().splitlines()]
    # The package, its metadata and the console script (recorded as ../../../bin/…).
    strays = [
        name
        for name in files
        if not name.startswith(("gateway/", "studio_gateway-"))
        and not name.endswith("/bin/studio-gateway")
    ]
    assert strays == []


def test_the_wheel_and_the_installed_package_hold_graphiqls_page_and_assets(
    image: Image,
) -> None:
    (wheel,) = image.path("/wheels").glob("studio_gateway-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    (site,) = image.path("/opt/venv").glob("lib/python*/site-packages")
    shipped = [p.relative_to(ROOT).as_posix() for p in GRAPHIQL.rglob("*") if p.is_file()]
    assert "gateway/static/graphiql/vendor/graphiql.min.js" in shipped
    assert sorted(set(shipped) - packaged) == []
    for name in shipped:
        assert (site / name).read_bytes() == (ROOT / name).read_bytes(), name


def test_the_working_directory_is_empty(image: Image) -> None:
    assert list(image.workdir.iterdir()) == []


# -- the command and the healthcheck ------------------------------------------------


def test_the_command_serves_liveness_and_readiness(stack: Stack) -> None:
    assert httpx.get(f"{stack.gateway}/healthz", timeout=5).status_code == 200
    assert httpx.get(f"{stack.gateway}/readyz", timeout=5).status_code == 200


def test_the_command_answers_graphql_from_the_emulator(stack: Stack) -> None:
    response = httpx.post(
        f"{stack.gateway}/graphql",
        json={"query": "{ flows(first: 1) { nodes { sid } } }"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("errors") is None, body
    (flow,) = body["data"]["flows"]["nodes"]
    assert re.fullmatch(r"FW[0-9a-f]{32}", flow["sid"])


def test_the_image_healthcheck_passes_on_a_live_gateway(image: Image, stack: Stack) -> None:
    result = image.run(healthcheck_on(image, stack.gateway_port), timeout=10)
    assert result.returncode == 0, result.stderr


def test_the_image_healthcheck_fails_with_status_1_when_nothing_listens(image: Image) -> None:
    # Docker reads 1 as unhealthy; 2 is reserved, and a traceback exits 1.
    result = image.run(healthcheck_on(image, free_port()), timeout=10)
    assert result.returncode == 1


def test_the_emulator_healthcheck_passes_on_a_live_emulator(image: Image, stack: Stack) -> None:
    result = image.run(stack.emulator_healthcheck, timeout=10)
    assert result.returncode == 0, result.stderr
