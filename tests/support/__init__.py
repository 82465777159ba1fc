"""Helpers the test suites share, one module per concept; fixtures stay in `conftest.py`.

- `servers`: a free port, uvicorn in a thread, an httpx client over ASGI in the lifespan;
- `processes`: real `studio-gateway serve` processes, one or several replicas;
- `redis`: the shared Redis, a throwaway `redis-server`, dropping a test's keys;
- `waiting`: `until` a condition holds, `ends_at` a deadline (never a sleep);
- `graphql`: one `query` helper, `codes` and `error_at` for reading errors;
- `gateway`: the gateway app in front of the emulator, plain or `secured`;
- `rig`: the fault matrix's gateway and emulator on real sockets;
- `multipart`: `@defer`/`@stream` answers read as a client reads them;
- `emulator`: a transport to it, its seeded personal data, its requests `paused`,
  when an ended execution ended (`ended_ago`);
- `node`: the Node client scripts of tests/clients.
"""

from tests.support.emulator import (
    AUTH,
    FAST_RETRY,
    SEEDED_AT,
    asgi_transport,
    ended_ago,
    paused,
    seeded_pii,
    strings_in,
    two_widget_flow,
)
from tests.support.gateway import Gateway, basic, gateway_settings, open_gateway, secured
from tests.support.graphql import answer, codes, error_at, operation, query
from tests.support.multipart import (
    MULTIPART_ACCEPT,
    merge_parts,
    multipart_parts,
    plain,
    read_multipart,
)
from tests.support.node import ensure_packages, run_node
from tests.support.processes import (
    Replicas,
    Served,
    gateway_env,
    gateway_process,
    replicas,
    wait_healthy,
)
from tests.support.redis import REDIS_URL, RedisServer, drop_keys
from tests.support.rig import RETRY, TIMEOUTS, UPSTREAM_CODES, Rig, open_rig, served_gateway
from tests.support.servers import (
    LiveServer,
    SwitchableApp,
    asgi_client,
    free_port,
    serve,
    with_state,
)
from tests.support.waiting import EARLY, SLACK, ends_at, until, until_blocking

__all__ = [
    "AUTH",
    "EARLY",
    "FAST_RETRY",
    "MULTIPART_ACCEPT",
    "REDIS_URL",
    "RETRY",
    "SEEDED_AT",
    "SLACK",
    "TIMEOUTS",
    "UPSTREAM_CODES",
    "Gateway",
    "LiveServer",
    "RedisServer",
    "Replicas",
    "Rig",
    "Served",
    "SwitchableApp",
    "answer",
    "asgi_client",
    "asgi_transport",
    "basic",
    "codes",
    "drop_keys",
    "ended_ago",
    "ends_at",
    "ensure_packages",
    "error_at",
    "free_port",
    "gateway_env",
    "gateway_process",
    "gateway_settings",
    "merge_parts",
    "multipart_parts",
    "open_gateway",
    "open_rig",
    "operation",
    "paused",
    "plain",
    "query",
    "read_multipart",
    "replicas",
    "run_node",
    "secured",
    "seeded_pii",
    "serve",
    "served_gateway",
    "strings_in",
    "two_widget_flow",
    "until",
    "until_blocking",
    "wait_healthy",
    "with_state",
]
