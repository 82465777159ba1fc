"""Answers are encoded fast, and exactly: what orjson refuses takes the standard path."""

from __future__ import annotations

import json

from gateway.endpoint import GatewayGraphQL
from gateway.settings import Settings
from tests.support import gateway_settings


def _view() -> GatewayGraphQL:
    settings: Settings = gateway_settings()
    return GatewayGraphQL(settings)


def test_an_answer_is_encoded_by_orjson_straight_to_bytes() -> None:
    answer = {"data": {"flow": {"sid": "FW1", "friendlyName": "Café ☕", "revision": 3}}}
    encoded = _view().encode_json(answer)
    # Bytes, as the response sends them: the standard library's path builds a str first.
    assert isinstance(encoded, bytes)
    assert json.loads(encoded) == answer


def test_an_integer_past_64_bits_in_a_context_is_still_encoded_exactly() -> None:
    answer = {"data": {"execution": {"context": {"counter": 2**70, "nested": {1: "x"}}}}}
    encoded = _view().encode_json(answer)
    assert json.loads(encoded)["data"]["execution"]["context"]["counter"] == 2**70
