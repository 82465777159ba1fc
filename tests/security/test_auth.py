"""Client authentication and scopes: who may call, and what each caller may read."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.emulator import Emulator
from gateway.graphql import ids
from gateway.security.auth import hash_key
from tests.support import MULTIPART_ACCEPT, codes, read_multipart, secured, serve

FLOWS = "{ flows(first: 2) { nodes { sid friendlyName } } }"


def api_keys(**scopes_by_key: list[str]) -> str:
    return json.dumps(
        [
            {"name": f"app-{k[-4:]}", "sha256": hash_key(k), "scopes": s}
            for k, s in scopes_by_key.items()
        ]
    )


READER = "sgw_reader_0001"
EVERYTHING = "sgw_full_0002"
KEYS = {
    READER: ["flows:read", "executions:read"],
    EVERYTHING: ["flows:read", "flows:write", "executions:read", "executions:write", "pii:read"],
}


async def call(http: Any, document: str, variables: dict | None = None, **headers: str) -> Any:
    return await http.post(
        "/graphql", json={"query": document, "variables": variables or {}}, headers=headers
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "sgw_forged_key"},
        {"Authorization": "Bearer sgw_forged_key"},
        {"X-API-Key": ""},
    ],
)
async def test_missing_or_forged_api_keys_are_401_with_no_upstream_call(
    emulator: Emulator, headers: dict[str, str]
) -> None:
    async with secured(emulator, auth="api_keys", api_keys=api_keys(**KEYS)) as http:
        emulator.reset_counters()
        response = await call(http, FLOWS, **headers)
    assert response.status_code == 401
    assert codes(response.json()) == ["UNAUTHENTICATED"]
    assert emulator.total_requests == 0


async def test_a_valid_api_key_reads_by_header_or_bearer(emulator: Emulator) -> None:
    async with secured(emulator, auth="api_keys", api_keys=api_keys(**KEYS)) as http:
        by_header = await call(http, FLOWS, **{"X-API-Key": READER})
        by_bearer = await call(http, FLOWS, Authorization=f"Bearer {READER}")
    assert by_header.json()["data"]["flows"]["nodes"]
    assert by_bearer.json() == by_header.json()


async def test_a_field_outside_the_callers_scopes_is_null_forbidden_and_never_fetched(
    emulator: Emulator,
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    document = """query($f: ID!) { flow(sid: $f) { friendlyName
      executions(first: 3) { nodes { sid status contactChannelAddress context
        steps(first: 2) { nodes { name context } } } } } }"""
    async with secured(emulator, auth="api_keys", api_keys=api_keys(**KEYS)) as http:
        emulator.reset_counters()
        body = (await call(http, document, {"f": flow_sid}, **{"X-API-Key": READER})).json()
    flow = body["data"]["flow"]
    assert flow["friendlyName"]
    executions = flow["executions"]["nodes"]
    assert executions and all(
        e["contactChannelAddress"] is None and e["context"] is None for e in executions
    )
    assert {c for c in codes(body)} == {"FORBIDDEN"}
    assert {e["extensions"]["requiredScope"] for e in body["errors"]} == {"pii:read"}
    contexts = [r for r in emulator.requests if r.endswith("/Context")]
    assert sum(emulator.requests[r] for r in contexts) == 0


async def test_without_executions_read_the_flow_still_answers(emulator: Emulator) -> None:
    flows_only = "sgw_flows_only_3"
    keys = api_keys(**{flows_only: ["flows:read"]})
    async with secured(emulator, auth="api_keys", api_keys=keys) as http:
        emulator.reset_counters()
        body = (
            await call(
                http,
                "{ flows(first: 2) { nodes { sid executions { nodes { sid } } } } }",
                **{"X-API-Key": flows_only},
            )
        ).json()
    assert all(f["sid"] and f["executions"] is None for f in body["data"]["flows"]["nodes"])
    assert set(codes(body)) == {"FORBIDDEN"}
    assert emulator.requests["GET /v2/Flows/{FlowSid}/Executions"] == 0


async def test_a_deferred_field_outside_the_callers_scopes_is_null_forbidden_in_its_part(
    emulator: Emulator,
) -> None:
    flows_only = "sgw_flows_only_5"
    keys = api_keys(**{flows_only: ["flows:read"]})
    document = """query($f: ID!) { flow(sid: $f) { friendlyName
      ... @defer { executions(first: 2) { nodes { sid contactChannelAddress } } } } }"""
    async with secured(emulator, auth="api_keys", api_keys=keys) as http:
        emulator.reset_counters()
        response = await http.post(
            "/graphql",
            json={"query": document, "variables": {"f": emulator.seeded_handles.survey_flow_sid}},
            headers={"X-API-Key": flows_only, "Accept": MULTIPART_ACCEPT},
        )
        first, *later = await read_multipart(response)
    assert first["data"]["flow"]["friendlyName"] and "errors" not in first
    (part,) = [piece for payload in later for piece in payload.get("incremental", [])]
    assert part["path"] == ["flow"]
    assert part["data"] == {"executions": None}
    assert codes(part) == ["FORBIDDEN"]
    assert part["errors"][0]["extensions"]["requiredScope"] == "executions:read"
    assert emulator.requests["GET /v2/Flows/{FlowSid}/Executions"] == 0


async def test_node_by_id_checks_the_scope_before_fetching(emulator: Emulator) -> None:
    flows_only = "sgw_flows_only_4"
    ended = emulator.seeded_handles.ended_execution
    global_id = ids.encode("Execution", ended.flow_sid, ended.execution_sid)
    async with secured(
        emulator, auth="api_keys", api_keys=api_keys(**{flows_only: ["flows:read"]})
    ) as http:
        emulator.reset_counters()
        body = (
            await call(
                http,
                "query($id: ID!) { node(id: $id) { id } }",
                {"id": global_id},
                **{"X-API-Key": flows_only},
            )
        ).json()
    assert body["data"]["node"] is None and codes(body) == ["FORBIDDEN"]
    assert emulator.total_requests == 0


async def test_mutations_need_write_scopes(emulator: Emulator) -> None:
    active = emulator.seeded_handles.active_execution
    document = "mutation($f: ID!, $e: ID!) { endExecution(flowSid: $f, sid: $e) { status } }"
    variables = {"f": active.flow_sid, "e": active.execution_sid}
    async with secured(emulator, auth="api_keys", api_keys=api_keys(**KEYS)) as http:
        emulator.reset_counters()
        denied = (await call(http, document, variables, **{"X-API-Key": READER})).json()
        assert codes(denied) == ["FORBIDDEN"] and emulator.total_requests == 0
        allowed = (await call(http, document, variables, **{"X-API-Key": EVERYTHING})).json()
    assert allowed["data"]["endExecution"]["status"] == "ENDED"


# -- JWT ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


JWKS_FETCHES: list[float] = []
#: The keys the identity provider publishes; a test may add one (a rotation).
JWKS_KEYS: list[dict[str, Any]] = []


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update(kid=kid, use="sig", alg="RS256")
    return public


@pytest.fixture(scope="module")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    JWKS_KEYS[:] = [jwk(signing_key, "key-1")]

    async def jwks(request: Any) -> JSONResponse:
        JWKS_FETCHES.append(time.time())
        return JSONResponse({"keys": JWKS_KEYS})

    with serve(Starlette(routes=[Route("/jwks.json", jwks)])) as url:
        yield f"{url}/jwks.json"


def token(key: Any, *, algorithm: str = "RS256", kid: str = "key-1", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": "mobile-user-7",
        "iss": "https://id.example",
        "aud": "studio-gateway",
        "iat": now,
        "exp": now + 300,
        "scope": "flows:read executions:read",
        **claims,
    }
    headers = {"kid": kid} if algorithm.startswith("RS") else None
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def hs256_signed_with_public_key(key: rsa.RSAPrivateKey) -> str:
    """The algorithm-confusion forgery: a valid token in every claim, HMAC-signed with
    the RSA public key's PEM, which a verifier that trusts `alg` would accept."""
    now = int(time.time())
    claims = {
        "sub": "attacker",
        "iss": "https://id.example",
        "aud": "studio-gateway",
        "iat": now,
        "exp": now + 300,
        "scope": "flows:read executions:read pii:read",
    }
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = b".".join(
        _b64(json.dumps(part).encode())
        for part in ({"alg": "HS256", "typ": "JWT", "kid": "key-1"}, claims)
    )
    signature = _b64(hmac.new(pem, signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode()


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def jwt_settings(jwks_url: str) -> dict[str, Any]:
    return {
        "auth": "jwt",
        "jwt_jwks_url": jwks_url,
        "jwt_issuer": "https://id.example",
        "jwt_audience": "studio-gateway",
        "jwt_leeway": 0,
    }


async def test_a_valid_jwt_reads_with_its_scopes(
    emulator: Emulator, jwks_url: str, signing_key: Any
) -> None:
    async with secured(emulator, **jwt_settings(jwks_url)) as http:
        body = (await call(http, FLOWS, Authorization=f"Bearer {token(signing_key)}")).json()
    assert body["data"]["flows"]["nodes"]


def _none_token() -> str:
    header = {"alg": "none", "typ": "JWT", "kid": "key-1"}
    claims = {
        "sub": "x",
        "iss": "https://id.example",
        "aud": "studio-gateway",
        "exp": int(time.time()) + 300,
        "scope": "flows:read executions:read pii:read",
    }
    return f"{_b64(json.dumps(header).encode()).decode()}.{_b64(json.dumps(claims).encode()).decode()}."


@pytest.mark.parametrize(
    "bad",
    [
        "none",
        "expired",
        "not-yet",
        "wrong-issuer",
        "wrong-audience",
        "other-key",
        "hs256-with-public",
        "garbage",
    ],
)
async def test_bad_jwts_are_401_with_no_upstream_call(
    emulator: Emulator, jwks_url: str, signing_key: Any, bad: str
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    tokens = {
        "none": _none_token(),
        "expired": token(signing_key, exp=now - 60, iat=now - 400),
        "not-yet": token(signing_key, nbf=now + 600),
        "wrong-issuer": token(signing_key, iss="https://evil.example"),
        "wrong-audience": token(signing_key, aud="someone-else"),
        "other-key": token(other),
        "hs256-with-public": hs256_signed_with_public_key(signing_key),
        "garbage": "not.a.jwt",
    }
    async with secured(emulator, **jwt_settings(jwks_url)) as http:
        emulator.reset_counters()
        response = await call(http, FLOWS, Authorization=f"Bearer {tokens[bad]}")
    assert response.status_code == 401
    assert codes(response.json()) == ["UNAUTHENTICATED"]
    assert emulator.total_requests == 0


async def test_algorithm_confusion_fails_even_where_hs256_is_accepted(
    emulator: Emulator, jwks_url: str, signing_key: Any
) -> None:
    # A gateway that accepts HS256 too must still never use an RSA public key as
    # an HMAC secret: the forged token names the JWKS key's id and is refused.
    settings = {**jwt_settings(jwks_url), "jwt_algorithms": "RS256,HS256"}
    async with secured(emulator, **settings) as http:
        emulator.reset_counters()
        forged = hs256_signed_with_public_key(signing_key)
        response = await call(http, FLOWS, Authorization=f"Bearer {forged}")
        genuine = await call(http, FLOWS, Authorization=f"Bearer {token(signing_key)}")
    assert response.status_code == 401
    assert codes(response.json()) == ["UNAUTHENTICATED"]
    assert genuine.status_code == 200 and "errors" not in genuine.json()
    assert emulator.requests["GET /v2/Flows"] == 1  # the genuine token's query alone


async def test_jwks_keys_are_fetched_once_then_refetched_for_an_unknown_key_id(
    emulator: Emulator, jwks_url: str, signing_key: Any
) -> None:
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings = {**jwt_settings(jwks_url), "jwt_jwks_refresh_cooldown": 0}
    async with secured(emulator, **settings) as http:
        before = len(JWKS_FETCHES)
        for _ in range(5):
            ok = await call(http, FLOWS, Authorization=f"Bearer {token(signing_key)}")
            assert ok.status_code == 200
        assert len(JWKS_FETCHES) == before + 1, "the keys are cached after one fetch"

        # The provider rotates: a token names a key id the cache has never seen.
        unknown = await call(http, FLOWS, Authorization=f"Bearer {token(rotated, kid='key-2')}")
        assert unknown.status_code == 401
        assert len(JWKS_FETCHES) == before + 2, "an unknown key id refetches the keys"

        JWKS_KEYS.append(jwk(rotated, "key-2"))
        try:
            fresh = await call(http, FLOWS, Authorization=f"Bearer {token(rotated, kid='key-2')}")
        finally:
            JWKS_KEYS.pop()
    assert fresh.status_code == 200 and fresh.json()["data"]["flows"]["nodes"]
    assert len(JWKS_FETCHES) == before + 3


async def test_unknown_key_ids_refetch_at_most_once_per_cool_down(
    emulator: Emulator, jwks_url: str, signing_key: Any
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with secured(emulator, **jwt_settings(jwks_url)) as http:
        assert (await call(http, FLOWS, Authorization=f"Bearer {token(signing_key)}")).is_success
        before = len(JWKS_FETCHES)
        for n in range(5):
            forged = token(stranger, kid=f"random-{n}")
            assert (await call(http, FLOWS, Authorization=f"Bearer {forged}")).status_code == 401
    assert len(JWKS_FETCHES) == before, "within the cool-down, no refetch"


def test_the_none_algorithm_cannot_be_configured() -> None:
    from gateway.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="JWT_ALGORITHMS"):
        load_settings(auth="jwt", jwt_key="k", jwt_algorithms="HS256,none")


async def test_a_static_hmac_key_works_too(emulator: Emulator) -> None:
    secret = "a-long-shared-secret-for-hs256-tokens-0123456789"
    settings = {
        "auth": "jwt",
        "jwt_key": secret,
        "jwt_algorithms": "HS256",
        "jwt_issuer": "https://id.example",
        "jwt_audience": "studio-gateway",
    }
    async with secured(emulator, **settings) as http:
        good = await call(http, FLOWS, Authorization=f"Bearer {token(secret, algorithm='HS256')}")
        bad = await call(
            http,
            FLOWS,
            Authorization=f"Bearer {token('another-secret-entirely-0123456789', algorithm='HS256')}",
        )
    assert good.json()["data"]["flows"]["nodes"]
    assert bad.status_code == 401
