"""Several real `studio-gateway serve` processes on one Redis that the test starts itself.

The emulator runs in the test's process (on a socket), so its counters are
read directly; each replica is its own process; Redis is a `redis-server`
subprocess on a free port, killed (or restarted) by the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.emulator import Emulator, create_app
from tests.support import serve


@pytest.fixture
def upstream(emulator: Emulator) -> Iterator[str]:
    with serve(create_app(emulator)) as url:
        yield url
