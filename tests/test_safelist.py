"""`studio-gateway safelist build`: from a client's files to the safelist the gateway
loads, each document validated against the schema and priced.

The command runs as a person runs it (a subprocess, files in a temporary
folder); then a real gateway process loads what it wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from gateway.emulator import Emulator
from tests.support import gateway_process

FLOWS = "query Flows { flows(first: 3) { nodes { sid friendlyName } } }\n"
EXECUTION = """query Execution($flow: ID!, $sid: ID!) {
  execution(flowSid: $flow, sid: $sid) { sid status steps(first: 5) { nodes { name } } }
}"""
FLOW = "query Flow($sid: ID!) { flow(sid: $sid) { sid friendlyName } }"
UPDATES = """subscription Updates($flow: ID!, $execution: ID!) {
  executionUpdates(flowSid: $flow, executionSid: $execution) { __typename }
}"""


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def safelist(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "STUDIO_GATEWAY_"))}
    return subprocess.run(
        [sys.executable, "-m", "gateway", "safelist", "build", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def client_files(folder: Path) -> None:
    """A .graphql file, Apollo's manifest and Relay's, as their tools write them."""
    (folder / "flows.graphql").write_text(FLOWS, encoding="utf-8")
    apollo = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": digest(EXECUTION), "name": "Execution", "type": "query", "body": EXECUTION},
            {"id": digest(UPDATES), "name": "Updates", "type": "subscription", "body": UPDATES},
        ],
    }
    (folder / "persisted-query-manifest.json").write_text(json.dumps(apollo), encoding="utf-8")
    (folder / "persisted_queries.json").write_text(
        json.dumps({digest(FLOW): FLOW}), encoding="utf-8"
    )


def test_build_writes_every_document_under_its_sha256_and_prices_each(tmp_path: Path) -> None:
    client_files(tmp_path)
    done = safelist(
        "flows.graphql",
        "persisted-query-manifest.json",
        "persisted_queries.json",
        "-o",
        "safelist.json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "safelist.json").read_text(encoding="utf-8"))
    assert written == {digest(text): text for text in (FLOWS, EXECUTION, UPDATES, FLOW)}
    costs = {
        match["name"]: int(match["cost"])
        for match in re.finditer(
            r"^\s*(?P<cost>\d+) upstream calls at most\s+\w+ (?P<name>\w+)",
            done.stdout,
            re.MULTILINE,
        )
    }
    assert set(costs) == {"Flows", "Execution", "Updates", "Flow"}
    # One page of the Flows list; one fetch of a flow.
    assert costs["Flows"] == 1 and costs["Flow"] == 1
    assert costs["Execution"] >= 2  # the execution and a page of its steps
    assert "persisted-query-manifest.json [Execution]" in done.stdout


def test_without_an_output_file_the_safelist_goes_to_stdout_and_the_report_to_stderr(
    tmp_path: Path,
) -> None:
    (tmp_path / "flows.graphql").write_text(FLOWS, encoding="utf-8")
    done = safelist("flows.graphql", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {digest(FLOWS): FLOWS}
    assert "Flows" in done.stderr


def test_an_invalid_operation_is_named_by_file_and_operation_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    client_files(tmp_path)
    (tmp_path / "broken.graphql").write_text(
        "query Broken { flows { nodes { colour } } }", encoding="utf-8"
    )
    done = safelist("flows.graphql", "broken.graphql", "-o", "safelist.json", cwd=tmp_path)
    assert done.returncode == 1
    assert "broken.graphql: operation Broken: invalid: Cannot query field 'colour'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "safelist.json").exists()


def test_a_manifest_whose_ids_are_not_sha256_hashes_is_refused_saying_how_to_fix_it(
    tmp_path: Path,
) -> None:
    # relay-compiler's default ids are MD5 hashes: no client could ask the gateway for them.
    md5 = hashlib.md5(FLOW.encode()).hexdigest()
    (tmp_path / "persisted_queries.json").write_text(json.dumps({md5: FLOW}), encoding="utf-8")
    done = safelist("persisted_queries.json", cwd=tmp_path)
    assert done.returncode == 1
    assert f"persisted_queries.json [{md5}]: its id" in done.stderr
    assert '"algorithm": "SHA256"' in done.stderr


def test_unreadable_sources_are_named(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text('{"queries": [1, 2]}', encoding="utf-8")
    (tmp_path / "broken.graphql").write_text("query {", encoding="utf-8")
    for name, expected in (
        ("missing.graphql", "missing.graphql: cannot be read"),
        ("notes.json", "notes.json: neither Apollo's persisted-query manifest"),
        ("broken.graphql", "broken.graphql: does not parse"),
        ("README.md", "README.md: expected a .graphql file"),
    ):
        done = safelist(name, cwd=tmp_path)
        assert done.returncode != 0 and expected in done.stderr, (name, done.stderr)
        assert "Traceback" not in done.stderr


def test_the_gateway_loads_the_built_safelist_and_runs_only_its_operations(
    tmp_path: Path, emulator: Emulator, emulator_url: str
) -> None:
    client_files(tmp_path)
    done = safelist(
        "flows.graphql", "persisted-query-manifest.json", "-o", "safelist.json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    ended = emulator.seeded_handles.ended_execution
    with gateway_process(
        emulator_url, STUDIO_GATEWAY_SAFELIST_FILE=str(tmp_path / "safelist.json")
    ) as served:
        emulator.reset_counters()
        known = httpx.post(
            f"{served.url}/graphql",
            json={
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest(EXECUTION)}},
                "variables": {"flow": ended.flow_sid, "sid": ended.execution_sid},
            },
            timeout=30,
        ).json()
        calls = emulator.total_requests
        unknown = httpx.post(
            f"{served.url}/graphql",
            json={"query": FLOW, "variables": {"sid": ended.flow_sid}},
            timeout=30,
        ).json()
    assert "errors" not in known, known
    assert known["data"]["execution"]["sid"] == ended.execution_sid
    assert known["data"]["execution"]["steps"]["nodes"]
    priced = re.search(r"^\s*(\d+) upstream calls at most\s+query Execution", done.stdout, re.M)
    assert priced and 1 <= calls <= int(priced.group(1)), "the price is an upper bound"
    assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
