"""The PII scope holds on every path to `contactChannelAddress` and `context`.

Without `pii:read` each of them answers null with a FORBIDDEN error at its own
path, the rest of the answer is whole, no personal value is in the response, and
no Context resource is fetched from Twilio: whether the field is reached from
`execution`, a flow's executions, `node(id:)`, a step, a step's execution or
parent, a mutation's answer, through fragments, aliases or directives. The same
documents with `pii:read` answer every one of those fields, so each path really
reaches them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.emulator import Emulator
from gateway.graphql import ids
from gateway.security.auth import hash_key
from gateway.security.principal import (
    EXECUTIONS_READ,
    EXECUTIONS_WRITE,
    FLOWS_READ,
    PII_READ,
)
from tests.support import secured, seeded_pii

#: A caller with every scope but `pii:read`, and one with it too.
WITHOUT_PII = "sgw_no_pii_0001"
WITH_PII = "sgw_with_pii_0002"
KEYS = json.dumps(
    [
        {
            "name": "no-pii",
            "sha256": hash_key(WITHOUT_PII),
            "scopes": [FLOWS_READ, EXECUTIONS_READ, EXECUTIONS_WRITE],
        },
        {
            "name": "with-pii",
            "sha256": hash_key(WITH_PII),
            "scopes": [FLOWS_READ, EXECUTIONS_READ, EXECUTIONS_WRITE, PII_READ],
        },
    ]
)

#: The fields the scope guards, and the aliases the documents below give them.
PII_KEYS = frozenset({"contactChannelAddress", "context", "phone", "memory"})
NEW_CONTACT = "+15005550944"

EXECUTION = "execution(flowSid: $f, sid: $e)"
STEP = "executionStep(flowSid: $sf, executionSid: $se, sid: $s)"
PRIVATE = "contactChannelAddress context"

#: Each path to the guarded fields, as a document over the variables of `variables()`.
PATHS: dict[str, str] = {
    "execution(...)": f"query($f: ID!, $e: ID!) {{ {EXECUTION} {{ sid {PRIVATE} }} }}",
    "flow { executions { nodes } }": f"""query($f: ID!) {{ flow(sid: $f) {{
        executions(first: 3) {{ nodes {{ sid {PRIVATE} }} }} }} }}""",
    "flow { executions { edges { node } } }": f"""query($f: ID!) {{ flow(sid: $f) {{
        executions(first: 2) {{ edges {{ node {{ {PRIVATE} }} }} }} }} }}""",
    "flows { nodes { executions { nodes } } }": f"""{{ flows(first: 2) {{ nodes {{
        executions(first: 2) {{ nodes {{ {PRIVATE} }} }} }} }} }}""",
    "node(id:) of an Execution": f"""query($execution: ID!) {{ node(id: $execution) {{
        id ... on Execution {{ {PRIVATE} }} }} }}""",
    "node(id:) of an ExecutionStep": """query($step: ID!) { node(id: $step) {
        id ... on ExecutionStep { context } } }""",
    "executionStep(...) { context }": f"""query($sf: ID!, $se: ID!, $s: ID!) {{
        {STEP} {{ sid context }} }}""",
    "executionStep(...) { execution }": f"""query($sf: ID!, $se: ID!, $s: ID!) {{
        {STEP} {{ execution {{ {PRIVATE} }} }} }}""",
    "executionStep(...) { parentStep }": f"""query($sf: ID!, $se: ID!, $s: ID!) {{
        {STEP} {{ parentStep {{ sid context }} }} }}""",
    "execution { steps { nodes { context } } }": f"""query($f: ID!, $e: ID!) {{
        {EXECUTION} {{ steps(first: 3) {{ nodes {{ sid context }} }} }} }}""",
    "execution { steps { edges { node { context } } } }": f"""query($f: ID!, $e: ID!) {{
        {EXECUTION} {{ steps(first: 2) {{ edges {{ node {{ context }} }} }} }} }}""",
    "flow { executions { nodes { steps { nodes { context } } } } }": f"""query($f: ID!) {{
        flow(sid: $f) {{ executions(first: 2) {{ nodes {{
          steps(first: 2) {{ nodes {{ context execution {{ {PRIVATE} }} }} }} }} }} }} }}""",
    "a named fragment": f"""query($f: ID!, $e: ID!) {{ {EXECUTION} {{ ...Private }} }}
        fragment Private on Execution {{ sid {PRIVATE} }}""",
    "nested named fragments": f"""query($f: ID!, $e: ID!) {{ {EXECUTION} {{ ...Outer }} }}
        fragment Outer on Execution {{ sid ...Inner steps(first: 2) {{ nodes {{ ...Step }} }} }}
        fragment Inner on Execution {{ {PRIVATE} }}
        fragment Step on ExecutionStep {{ context }}""",
    "an inline fragment": f"""query($f: ID!, $e: ID!) {{ {EXECUTION} {{
        ... on Execution {{ {PRIVATE} }} }} }}""",
    "aliases": f"""query($f: ID!, $e: ID!) {{ {EXECUTION} {{
        phone: contactChannelAddress memory: context context }} }}""",
    "aliased roots": f"""query($f: ID!, $e: ID!) {{
        one: {EXECUTION} {{ memory: context }} two: {EXECUTION} {{ phone: contactChannelAddress }} }}""",
    "@include": f"""query($f: ID!, $e: ID!, $yes: Boolean!) {{ {EXECUTION} {{
        context @include(if: $yes) contactChannelAddress @skip(if: false) }} }}""",
}
#: Mutations whose payload reads a guarded field: refused whole, before they run.
MUTATIONS = {
    "createExecution { ... }": f"""mutation($f: ID!, $to: String!) {{
        createExecution(flowSid: $f, to: $to, from: "+15005550001") {{ sid {PRIVATE} }} }}""",
    "endExecution { ... }": f"""mutation($af: ID!, $ae: ID!) {{
        endExecution(flowSid: $af, sid: $ae) {{ status {PRIVATE} }} }}""",
}


def variables(emulator: Emulator) -> dict[str, Any]:
    handles = emulator.seeded_handles
    ended, active, step = handles.ended_execution, handles.active_execution, handles.subflow_step
    return {
        "f": ended.flow_sid,
        "e": ended.execution_sid,
        "execution": ids.encode("Execution", *ended),
        "step": ids.encode("ExecutionStep", *step),
        "sf": step.flow_sid,
        "se": step.execution_sid,
        "s": step.step_sid,
        "af": active.flow_sid,
        "ae": active.execution_sid,
        "to": NEW_CONTACT,
        "yes": True,
    }


def document_variables(document: str, emulator: Emulator) -> dict[str, Any]:
    """The variables `document` declares (GraphQL refuses none it does not know)."""
    return {k: v for k, v in variables(emulator).items() if f"${k}:" in document}


def pii_fields(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Each guarded field in an answer's `data`: its path and its value."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PII_KEYS:
                yield (*path, key), item
            else:
                yield from pii_fields(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from pii_fields(item, (*path, index))


def context_fetches(emulator: Emulator) -> int:
    return sum(n for route, n in emulator.requests.items() if route.endswith("/Context"))


async def ask(emulator: Emulator, key: str, document: str) -> tuple[dict[str, Any], str]:
    """The answer to `document` for the caller with API key `key`, and its raw text."""
    async with secured(emulator, auth="api_keys", api_keys=KEYS) as http:
        emulator.reset_counters()
        response = await http.post(
            "/graphql",
            json={"query": document, "variables": document_variables(document, emulator)},
            headers={"X-API-Key": key},
        )
    assert response.status_code == 200, response.text
    return response.json(), response.text


@pytest.fixture(scope="module")
def personal_data() -> set[str]:
    return seeded_pii() | {NEW_CONTACT}


@pytest.mark.parametrize("document", PATHS.values(), ids=PATHS.keys())
async def test_without_pii_read_each_path_is_null_forbidden_and_fetches_no_context(
    emulator: Emulator, document: str, personal_data: set[str]
) -> None:
    body, text = await ask(emulator, WITHOUT_PII, document)

    guarded = dict(pii_fields(body["data"]))
    assert guarded, f"the answer reached no guarded field: {body}"
    assert all(value is None for value in guarded.values()), guarded
    errors = {tuple(error["path"]): error for error in body.get("errors", [])}
    assert set(errors) == set(guarded), "one error per guarded field, and no other error"
    for error in errors.values():
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["extensions"]["requiredScope"] == PII_READ
    assert context_fetches(emulator) == 0
    assert not [value for value in personal_data if value in text]


@pytest.mark.parametrize("document", MUTATIONS.values(), ids=MUTATIONS.keys())
async def test_without_pii_read_a_mutation_reading_pii_is_refused_before_it_runs(
    emulator: Emulator, document: str, personal_data: set[str]
) -> None:
    body, text = await ask(emulator, WITHOUT_PII, document)

    assert not any(value for value in (body.get("data") or {}).values()), body
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert {e["extensions"]["requiredScope"] for e in body["errors"]} == {PII_READ}
    assert emulator.total_requests == 0, "the mutation never ran"
    assert not [value for value in personal_data if value in text]


@pytest.mark.parametrize("document", {**PATHS, **MUTATIONS}.values(), ids=[*PATHS, *MUTATIONS])
async def test_with_pii_read_each_path_answers_the_guarded_fields(
    emulator: Emulator, document: str
) -> None:
    body, _ = await ask(emulator, WITH_PII, document)

    assert "errors" not in body, body["errors"]
    guarded = dict(pii_fields(body["data"]))
    assert guarded and all(value is not None for value in guarded.values()), guarded
    if any(path[-1] in ("context", "memory") for path in guarded):
        assert context_fetches(emulator) > 0
