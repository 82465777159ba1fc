"""Every client-facing error code comes from one enumeration, `Code`."""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.graphql import errors
from gateway.security.codes import Code

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
#: The layers that answer clients with an `extensions.code`.
ANSWERING = ("security", "graphql")


def test_graphql_errors_and_the_gate_share_one_enumeration() -> None:
    assert errors.Code is Code


def test_no_module_that_answers_clients_spells_a_code_as_a_bare_string() -> None:
    codes = {code.value for code in Code}
    found = []
    for folder in ANSWERING:
        for path in sorted((GATEWAY / folder).glob("*.py")):
            if path.name == "codes.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in codes:
                    found.append(f"{path.name}:{node.lineno} {node.value}")
    assert not found, f"use gateway.security.codes.Code instead of: {found}"
