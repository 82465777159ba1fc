"""docker/Dockerfile and .dockerignore, read as text: the shape of the image.

What the image does when it runs is test_image_install.py's part.
"""

from __future__ import annotations

import re
import shlex
import tomllib

import pytest

import gateway
from tests.docker.files import (
    DOCKERIGNORE,
    ROOT,
    Dockerfile,
    Stage,
    ignore_rules,
    is_ignored,
    parse_dockerfile,
)

VENV = "/opt/venv"
SERVE = ["studio-gateway", "serve", "--host", "0.0.0.0", "--port", "8000"]


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile()


@pytest.fixture(scope="module")
def final(dockerfile: Dockerfile) -> Stage:
    return dockerfile.final


def test_two_stages_on_an_official_slim_python(dockerfile: Dockerfile) -> None:
    assert [stage.name for stage in dockerfile.stages] == ["builder", None]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    floor = re.fullmatch(r">=\s*3\.(\d+)", requires)
    assert floor, f"requires-python {requires!r}: expected the form >=3.N"
    minimum = int(floor.group(1))
    for stage in dockerfile.stages:
        match = re.fullmatch(r"python:3\.(\d+)(?:\.\d+)?-slim(?:-\w+)?", stage.base)
        assert match, f"{stage.base} is not an official slim Python image"
        assert int(match.group(1)) >= minimum, f"{stage.base} is older than {requires}"


def test_builder_installs_a_wheel_of_the_project_into_a_virtualenv(dockerfile: Dockerfile) -> None:
    runs = [instruction.args for instruction in dockerfile.stage("builder").all("RUN")]
    assert any(re.search(r"\bpip wheel --no-deps\b.* \.$", run) for run in runs)
    assert any(f"-m venv --without-pip {VENV}" in run for run in runs)
    assert any(f"--python {VENV}/bin/python install" in run and ".whl" in run for run in runs)


def test_final_stage_copies_only_the_virtualenv(final: Stage) -> None:
    copies = final.all("COPY") + final.all("ADD")
    assert [(c.flags(), c.body()) for c in copies] == [({"from": "builder"}, f"{VENV} {VENV}")]


def test_final_stage_installs_nothing(final: Stage) -> None:
    for run in final.all("RUN"):
        words = set(shlex.split(run.args))
        assert not words & {"pip", "apt-get", "apt", "apk", "gcc", "make", "curl", "wget"}, (
            f"line {run.line}: the final stage only adds a user; build in the builder"
        )


def test_final_stage_runs_as_an_unprivileged_user(final: Stage) -> None:
    user = final.last("USER")
    assert user is not None
    name, _, group = user.args.partition(":")
    assert name not in {"root", "0"} and group not in {"root", "0"}
    # Numeric, so an orchestrator can check "run as non-root" without /etc/passwd.
    assert name.isdigit()
    assert any(f"--uid {name}" in run.args for run in final.all("RUN"))


def test_final_stage_environment(final: Stage) -> None:
    env = final.env()
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].split(":")[0] == f"{VENV}/bin"
    assert not any(name.startswith(("TWILIO_", "STUDIO_GATEWAY_")) for name in env), (
        "configuration and credentials belong to the deployment, not the image"
    )


def test_final_stage_serves_the_gateway_on_8000(final: Stage) -> None:
    expose = final.last("EXPOSE")
    command = final.last("CMD")
    assert expose is not None and expose.args == "8000"
    assert command is not None and command.exec_form() == SERVE


def test_healthcheck_asks_healthz_with_python_alone(final: Stage) -> None:
    healthcheck = final.last("HEALTHCHECK")
    assert healthcheck is not None
    argv = healthcheck.exec_form()
    assert argv is not None, "use the exec form: slim images need no shell for it"
    assert argv[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8000/healthz" in argv[2]
    assert set(healthcheck.flags()) >= {"interval", "timeout", "start-period", "retries"}


def test_final_stage_is_labelled_with_the_release(final: Stage) -> None:
    args = dict(a.args.partition("=")[::2] for a in final.all("ARG"))
    # A plain `docker build` labels the image with the package's own version.
    assert args["VERSION"] == gateway.__version__, "docker/Dockerfile's ARG VERSION drifted"
    labels = dict(
        item.partition("=")[::2] for label in final.all("LABEL") for item in shlex.split(label.args)
    )
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    assert labels["org.opencontainers.image.revision"] == "${REVISION}"
    assert labels["org.opencontainers.image.licenses"] == "MIT"
    assert labels["org.opencontainers.image.title"] == "Studio Gateway"
    assert labels["org.opencontainers.image.description"]


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".env",
        "tests/conftest.py",
        ".pytest_cache/v/cache",
        ".ruff_cache/CACHEDIR.TAG",
        "studio_gateway.egg-info/PKG-INFO",
        "build/lib/gateway/app.py",
        "gateway/__pycache__/app.cpython-312.pyc",
        "gateway/studio/__pycache__/client.cpython-312.pyc",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert is_ignored(path, ignore_rules())


def test_dockerignore_lets_through_every_copied_source(dockerfile: Dockerfile) -> None:
    rules = ignore_rules()
    for stage in dockerfile.stages:
        for copy in stage.all("COPY"):
            if "from" in copy.flags():
                continue
            *sources, _ = shlex.split(copy.body())
            for source in sources:
                assert (ROOT / source).exists(), source
                assert not is_ignored(source, rules), f"{DOCKERIGNORE.name} hides {source}"
    assert not is_ignored("gateway/studio/client.py", rules)
    assert not is_ignored("gateway/py.typed", rules)
