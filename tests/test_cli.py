"""`studio-gateway` explains itself: every command and option has help naming its
variable and default, and `settings` shows what is in force and where it came from.

The command runs as a person runs it: a subprocess, with its own environment and
working directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import build_parser
from gateway.settings import Settings
from gateway.settings.explain import MASK, setting

#: A token that must never be printed.
TOKEN = "f" * 32


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "STUDIO_GATEWAY_"))}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env={**base, "COLUMNS": "200", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (group,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(group.choices)


def test_the_top_level_help_lists_every_command(tmp_path: Path) -> None:
    done = run("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    commands = subcommands(build_parser())
    assert {"serve", "cache-key", "hash-key", "settings", "check"} <= set(commands)
    for name in commands:
        assert f"\n    {name} " in done.stdout or f"\n    {name}\n" in done.stdout, name
    assert "studio-gateway settings" in done.stdout


def test_every_option_of_every_command_says_what_it_does_and_its_default() -> None:
    missing = []
    for name, command in subcommands(build_parser()).items():
        assert command.description, f"{name} has no description"
        for action in command._actions:
            if isinstance(action, argparse._HelpAction) or not action.option_strings:
                continue
            shown = command._get_formatter()._expand_help(action)
            if not action.help or "default" not in shown:
                missing.append(f"{name} {action.option_strings[0]}")
    assert missing == []


def test_an_option_whose_help_does_not_say_its_default_is_given_it(tmp_path: Path) -> None:
    done = run("emulator", "--help", cwd=tmp_path)
    text = " ".join(done.stdout.split())
    assert "seconds added to every answer (default: 0.0)" in text
    assert "address to listen on (default: 127.0.0.1)" in text
    assert "(default: off)" in text  # --admin, a switch
    # An option added later, by anyone, documents its default the same way.
    parser = build_parser()
    hash_key = subcommands(parser)["hash-key"]
    hash_key.add_argument("--label", help="a label")
    hash_key.add_argument("--limit", type=int, default=3, help="how many")
    help_text = " ".join(hash_key.format_help().split())
    assert "a label (default: unset)" in help_text and "how many (default: 3)" in help_text


def test_serve_options_name_their_variables_and_defaults(tmp_path: Path) -> None:
    done = run("serve", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    for field, default in (("host", "127.0.0.1"), ("port", "8000"), ("workers", "1")):
        described = setting(field)
        assert f"[env {described.env}; default {default}]" in text


def test_every_setting_has_a_description() -> None:
    undescribed = [name for name, f in Settings.model_fields.items() if not f.description]
    assert undescribed == [], "describe these settings (Field(description=...))"


def test_settings_shows_each_value_and_where_it_came_from(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "STUDIO_GATEWAY_PORT=9123\nSTUDIO_GATEWAY_WORKERS=3\n", encoding="utf-8"
    )
    done = run(
        "settings",
        "--json",
        cwd=tmp_path,
        TWILIO_AUTH_TOKEN=TOKEN,
        STUDIO_GATEWAY_WORKERS="2",
        STUDIO_GATEWAY_REDIS_URL="redis://:hunter2@cache.internal:6379/0",
    )
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout and "hunter2" not in done.stdout
    rows = {row["name"]: row for row in map(json.loads, done.stdout.splitlines())}
    assert set(rows) == {setting(name).env for name in Settings.model_fields}
    assert rows["TWILIO_AUTH_TOKEN"] == {
        "name": "TWILIO_AUTH_TOKEN",
        "value": MASK,
        "source": "environment",
    }
    assert rows["STUDIO_GATEWAY_PORT"]["value"] == "9123"
    assert rows["STUDIO_GATEWAY_PORT"]["source"] == ".env"
    # The environment wins over .env.
    assert rows["STUDIO_GATEWAY_WORKERS"] == {
        "name": "STUDIO_GATEWAY_WORKERS",
        "value": "2",
        "source": "environment",
    }
    assert rows["STUDIO_GATEWAY_REDIS_URL"]["value"] == f"redis://:{MASK}@cache.internal:6379/0"
    assert rows["STUDIO_GATEWAY_HOST"] == {
        "name": "STUDIO_GATEWAY_HOST",
        "value": "127.0.0.1",
        "source": "default",
    }


def test_settings_prints_a_table_grouped_as_the_model_is(tmp_path: Path) -> None:
    done = run("settings", cwd=tmp_path, TWILIO_AUTH_TOKEN=TOKEN)
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout
    lines = done.stdout.splitlines()
    assert lines[0] == "# Upstream, server and cache"
    assert "# Security and limits" in lines and "# Live executions" in lines
    (token,) = [line for line in lines if line.startswith("TWILIO_AUTH_TOKEN ")]
    assert token.split() == ["TWILIO_AUTH_TOKEN", MASK, "environment"]


@pytest.mark.parametrize("command", ["settings", "check", "serve"])
def test_a_wrong_setting_is_named_without_a_traceback(tmp_path: Path, command: str) -> None:
    done = run(command, cwd=tmp_path, STUDIO_GATEWAY_PORT="eighty")
    assert done.returncode == 2
    assert done.stderr.startswith("studio-gateway: STUDIO_GATEWAY_PORT: ")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["serve", "check"])
def test_without_twilio_credentials_the_command_says_what_to_set_or_run(
    tmp_path: Path, command: str
) -> None:
    done = run(command, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("studio-gateway: TWILIO_ACCOUNT_SID is not set.")
    assert "TWILIO_AUTH_TOKEN" in done.stderr and "`studio-gateway demo`" in done.stderr
    assert "STUDIO_GATEWAY_UPSTREAM_URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_emulators_help_names_its_seeded_sizes() -> None:
    from gateway import cli
    from gateway.emulator import emulator

    assert cli.SEEDED_FLOWS == emulator.DEFAULT_FLOWS
    assert cli.SEEDED_EXECUTIONS_PER_FLOW == emulator.DEFAULT_EXECUTIONS_PER_FLOW
    assert cli.SEEDED_STEPS_PER_EXECUTION == emulator.DEFAULT_STEPS_PER_EXECUTION


def test_building_the_command_line_does_not_import_the_emulator() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from gateway.cli import build_parser; "
            "build_parser(); print('gateway.emulator' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "False", done.stderr
