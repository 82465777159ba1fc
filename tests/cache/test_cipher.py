"""Sealing personal data for Redis: authenticated, bound to its key, rotatable, never shown."""

from __future__ import annotations

import base64
import os

import pytest

from gateway.cache import CacheCipher, new_key
from gateway.settings import SettingsError, load_settings

KEY = "AC1:digest:ctx:FW1:FN1"
PLAIN = b'{"contact":"+14155550123","flow":{"data":{"name":"Ana"}}}'


def keys(count: int) -> list[bytes]:
    return [os.urandom(32) for _ in range(count)]


def test_a_sealed_entry_opens_under_its_key_and_hides_its_content() -> None:
    cipher = CacheCipher(keys(1))
    sealed = cipher.seal(KEY, PLAIN)
    assert b"+14155550123" not in sealed and b"Ana" not in sealed
    assert cipher.open(KEY, sealed) == PLAIN
    assert cipher.seal(KEY, PLAIN) != sealed  # a fresh nonce each time


def test_an_entry_moved_to_another_key_does_not_open() -> None:
    cipher = CacheCipher(keys(1))
    sealed = cipher.seal(KEY, PLAIN)
    assert cipher.open("AC1:digest:ctx:FW1:FN2", sealed) is None


def test_a_changed_byte_or_plain_text_does_not_open() -> None:
    cipher = CacheCipher(keys(1))
    sealed = bytearray(cipher.seal(KEY, PLAIN))
    sealed[-1] ^= 1
    assert cipher.open(KEY, bytes(sealed)) is None
    assert cipher.open(KEY, PLAIN) is None
    assert cipher.open(KEY, b"") is None


def test_keys_rotate_the_first_seals_and_every_key_opens() -> None:
    old, new = keys(2)
    before = CacheCipher([old]).seal(KEY, PLAIN)
    rotating = CacheCipher([new, old])
    assert rotating.open(KEY, before) == PLAIN
    after = rotating.seal(KEY, PLAIN)
    assert CacheCipher([new]).open(KEY, after) == PLAIN
    assert CacheCipher([old]).open(KEY, after) is None  # sealed with the new key
    assert CacheCipher([new]).open(KEY, before) is None  # the old key is gone


def test_a_bad_key_stops_start_up_naming_the_setting_not_the_key() -> None:
    good = new_key()
    short = base64.b64encode(b"k" * 16).decode()
    with pytest.raises(SettingsError) as caught:
        load_settings(cache_encryption_keys=f"{good},{short}")
    message = str(caught.value)
    assert message.startswith("STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS: key 2 ")
    assert good not in message and short not in message
    with pytest.raises(SettingsError, match="key 1 is not base64"):
        load_settings(cache_encryption_keys="not base64!")


def test_the_keys_never_print() -> None:
    key = new_key()
    settings = load_settings(cache_encryption_keys=key)
    cipher = settings.cache_cipher()
    assert cipher is not None
    for text in (repr(settings), str(settings.model_dump()), repr(cipher)):
        assert key not in text
    assert len(base64.b64decode(new_key())) == 32


def test_the_cli_prints_a_new_key(capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli import main

    assert main(["cache-key"]) == 0
    printed = capsys.readouterr().out.strip()
    assert len(base64.b64decode(printed, validate=True)) == 32
    assert load_settings(cache_encryption_keys=printed).cache_cipher() is not None
