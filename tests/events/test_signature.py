"""Signatures of Event Streams webhooks, checked against Twilio's own SDK."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from gateway.events.signature import body_sha256, is_valid, sign

# The SDK's own test vector (tests/unit/test_request_validator.py), FACTS.md section 3.
TOKEN = "12345"
BODY = b'{"property": "value", "boolean": true}'
URL = (
    "https://mycompany.com/myapp.php?foo=1&bar=2"
    "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
)
SIGNATURE = "a9nBmqA0ju/hNViExpshrM61xv4="


def test_the_sdk_test_vector_is_accepted() -> None:
    assert body_sha256(BODY) == URL.rsplit("=", 1)[1]
    assert sign(TOKEN, URL) == SIGNATURE
    assert is_valid(TOKEN, URL, BODY, SIGNATURE)


@pytest.mark.parametrize(
    ("signed_url", "received_url"),
    [
        (
            "https://gw.example.com/webhooks/twilio/events",
            "https://gw.example.com:443/webhooks/twilio/events",
        ),
        (
            "https://gw.example.com:443/webhooks/twilio/events",
            "https://gw.example.com/webhooks/twilio/events",
        ),
        (
            "http://127.0.0.1:8000/webhooks/twilio/events",
            "http://127.0.0.1:8000/webhooks/twilio/events",
        ),
        ("http://gw.example.com/hooks?a=1", "http://gw.example.com:80/hooks?a=1"),
    ],
)
def test_what_the_sdk_accepts_we_accept_with_or_without_the_default_port(
    signed_url: str, received_url: str
) -> None:
    body = b'[{"id":"EZ1","type":"com.twilio.studio.flow.step.ended"}]'
    sep = "&" if "?" in signed_url else "?"
    signed = f"{signed_url}{sep}bodySHA256={body_sha256(body)}"
    received = f"{received_url}{sep}bodySHA256={body_sha256(body)}"
    signature = RequestValidator(TOKEN).compute_signature(signed, {})
    assert RequestValidator(TOKEN).validate(received, body.decode(), signature)
    assert is_valid(TOKEN, received, body, signature)


@pytest.mark.parametrize(
    "tamper",
    ["body", "token", "url", "signature", "no-hash", "missing", "two-hashes"],
)
def test_any_change_is_refused_as_the_sdk_refuses_it(tamper: str) -> None:
    body, url, token, signature = BODY, URL, TOKEN, SIGNATURE
    if tamper == "body":
        body = BODY.replace(b"true", b"false")
    elif tamper == "token":
        token = "54321"
    elif tamper == "url":
        url = URL.replace("foo=1", "foo=2")
    elif tamper == "signature":
        signature = SIGNATURE[:-2] + "A="
    elif tamper == "no-hash":
        url = "https://mycompany.com/myapp.php?foo=1&bar=2"
        signature = sign(token, url)
    elif tamper == "missing":
        signature = ""
    else:
        url = URL + "&bodySHA256=" + body_sha256(BODY)
        signature = sign(token, url)
    assert not is_valid(token, url, body, signature)
    if tamper not in ("no-hash", "missing", "two-hashes"):
        # The SDK agrees (it raises on a str body without bodySHA256, FACTS.md section 3).
        assert not RequestValidator(token).validate(url, body.decode(), signature)
