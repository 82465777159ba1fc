"""The emulator on a socket, for real `studio-gateway serve` processes in front of it
(`tests.support.gateway_process`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.emulator import Emulator, create_app
from tests.support import serve


@pytest.fixture
def upstream(emulator: Emulator) -> Iterator[str]:
    with serve(create_app(emulator)) as url:
        yield url
