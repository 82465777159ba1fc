"""A release is one version, shown everywhere, built into a checked sdist and wheel."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import gateway

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_the_version_lives_in_the_package_alone() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "gateway.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?", gateway.__version__)
    assert metadata.version("studio-gateway") == gateway.__version__


def test_the_command_prints_its_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"studio-gateway {gateway.__version__}"


def test_the_changelog_keeps_an_unreleased_section_and_one_for_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog
    assert re.search(
        rf"^## \[{re.escape(gateway.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$",
        changelog,
        re.MULTILINE,
    ), f"CHANGELOG.md has no section for {gateway.__version__}"


def test_the_license_is_the_mit_license_pyproject_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c) " in text and "Studio Gateway contributors" in text


def test_make_release_builds_an_sdist_and_a_wheel_that_twine_accepts(tmp_path: Path) -> None:
    recipe = (ROOT / "Makefile").read_text(encoding="utf-8").split("\nrelease:", 1)[1]
    assert "-m build" in recipe and "twine check --strict" in recipe
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    version = gateway.__version__
    wheel = tmp_path / f"studio_gateway-{version}-py3-none-any.whl"
    sdist = tmp_path / f"studio_gateway-{version}.tar.gz"
    assert wheel.is_file() and sdist.is_file(), sorted(p.name for p in tmp_path.iterdir())
    names = zipfile.ZipFile(wheel).namelist()
    assert f"studio_gateway-{version}.dist-info/licenses/LICENSE" in names
    assert "gateway/static/graphiql/index.html" in names
    with tarfile.open(sdist) as archive:
        assert f"studio_gateway-{version}/LICENSE" in archive.getnames()
    checked = subprocess.run(
        [str(BIN / "twine"), "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
