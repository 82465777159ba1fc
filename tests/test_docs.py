"""The documentation site: its reference pages are the code's, and it builds offline
with no warning and no broken link (`make docs`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import docs
from gateway.observability import Metrics
from gateway.observability.logs import FIELDS
from gateway.security.codes import Code
from gateway.settings import Settings
from gateway.settings.explain import setting

ROOT = Path(__file__).resolve().parents[1]
MKDOCS = Path(sys.executable).parent / "mkdocs"


def build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` as `make docs` runs it, with any fetch bound to fail."""
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        # Nothing may come from the network: a plugin or theme that fetches fails here.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "ALL_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    done = build(ROOT, folder)
    assert done.returncode == 0, done.stderr[-4000:]
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    assert warnings == []
    return folder


def test_the_reference_pages_are_generated_from_the_code() -> None:
    for path, text in docs.render().items():
        committed = ROOT / "docs" / path
        assert committed.is_file(), f"docs/{path} is missing: run make docs"
        assert committed.read_text(encoding="utf-8") == text, (
            f"docs/{path} differs from the code: run make docs and commit it"
        )


def test_the_generator_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    stale = tmp_path / "docs" / "reference" / "errors.md"
    stale.write_text(stale.read_text(encoding="utf-8").replace("NOT_FOUND", "GONE"))
    check = [sys.executable, "-m", "gateway.docs", "--docs", str(tmp_path / "docs"), "--check"]
    done = subprocess.run(check, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "errors.md: differs from the code" in done.stderr
    assert subprocess.run(check[:-1], timeout=120).returncode == 0
    assert subprocess.run(check, timeout=120).returncode == 0


def test_the_site_builds_offline_with_every_page_of_the_nav(site: Path) -> None:
    for page in (
        "reference/settings",
        "reference/cli",
        "reference/errors",
        "reference/observability",
        "reference/schema",
        "ARCHITECTURE",
        "changelog",
    ):
        assert (site / page / "index.html").is_file(), page
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis.com" not in index and "fonts.gstatic.com" not in index
    # The changelog page is CHANGELOG.md itself, included, not a copy.
    assert "Keep a Changelog" in (site / "changelog" / "index.html").read_text(encoding="utf-8")


def test_every_setting_code_and_metric_can_be_found_in_the_site(site: Path) -> None:
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    text = " ".join(doc["text"] + " " + doc["title"] for doc in index["docs"])
    for name in Settings.model_fields:
        assert setting(name).env in text, setting(name).env
    for code in Code:
        assert code.value in text, code
    for metric in docs._metrics(Metrics()):
        assert metric._name in text, metric._name


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copy(ROOT / "CHANGELOG.md", tmp_path / "CHANGELOG.md")
    page = tmp_path / "docs" / "index.md"
    page.write_text(page.read_text() + "\nSee [the codes](reference/errors.md#NO_SUCH_CODE).\n")
    done = build(tmp_path, tmp_path / "site")
    assert done.returncode != 0
    assert "NO_SUCH_CODE" in done.stderr


def test_every_log_field_has_a_meaning() -> None:
    written = {field for call in docs._log_calls() for field in call.fields}
    written |= set(docs._formatter_fields())
    assert sorted(written - set(FIELDS)) == [], "describe these in observability/logs.py FIELDS"
    assert sorted(set(FIELDS) - written) == [], "FIELDS describes fields no line writes"
