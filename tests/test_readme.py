"""README.md stays true: the two commands, every setting, the CI entry point."""

from __future__ import annotations

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
