"""README.md stays true: the two commands, every setting, the CI entry point."""

from __future__ import annotations

import tomllib
from pathlib import Path

from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_opens_with_the_two_commands() -> None:
    head = README[:600]
    assert "make demo" in head and "make test" in head


def test_every_setting_is_documented_in_the_readme() -> None:
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = alias.choices[0] if alias is not None else f"STUDIO_GATEWAY_{name.upper()}"  # type: ignore[union-attr]
        assert f"`{env}`" in README, f"README.md does not document {env}"


def test_ci_runs_the_readmes_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _make_recipe(target: str) -> list[str]:
    """The commands of a Makefile target, and those of the targets it depends on."""
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    head = next(line for line in lines if line.startswith(f"{target}:"))
    start = lines.index(head) + 1
    recipe = []
    for line in lines[start:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    prerequisites = [p for p in head.split(":", 1)[1].split() if not p.startswith("$")]
    return [command for p in prerequisites for command in _make_recipe(p)] + recipe


def test_make_check_runs_lint_formatting_and_strict_types() -> None:
    recipe = " ; ".join(_make_recipe("check"))
    assert "ruff check gateway" in recipe
    assert "ruff format --check gateway" in recipe
    assert "mypy" in recipe
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert mypy["strict"] is True
    assert "gateway" in mypy["files"]
    assert set(mypy["plugins"]) == {"pydantic.mypy", "strawberry.ext.mypy_plugin"}


def test_ci_checks_before_it_tests() -> None:
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("make ")
    ]
    assert "make check" in commands and "make test" in commands
    assert commands.index("make check") < commands.index("make test")
