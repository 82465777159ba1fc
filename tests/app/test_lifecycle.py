"""A real `studio-gateway serve` process: start-up errors, check, and SIGTERM draining."""

from __future__ import annotations

import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gateway.cli import main
from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator
from gateway.settings import Settings, SettingsError, load_settings
from tests.support import (
    SLACK,
    free_port,
    gateway_env,
    gateway_process,
    paused,
    until,
    until_blocking,
)
from tests.support.graphql_ws import connected
from tests.support.live import UPDATES

#: A drain long enough to see on a loaded machine; the SIGTERM test waits it out once.
DRAIN_SECONDS = 3.0


def test_a_bad_setting_stops_start_up_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STUDIO_GATEWAY_PORT", "eighty")
    with pytest.raises(SettingsError, match="STUDIO_GATEWAY_PORT"):
        load_settings()
    monkeypatch.setenv("STUDIO_GATEWAY_PORT", "8000")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", DEMO_ACCOUNT_SID)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("TWILIO_API_KEY", raising=False)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "TWILIO_AUTH_TOKEN" in err[0]


def test_secrets_never_print() -> None:
    settings = Settings(
        twilio_account_sid=DEMO_ACCOUNT_SID,
        twilio_auth_token="tok-zz-secret",  # type: ignore[arg-type]
        twilio_api_secret="key-zz-secret",  # type: ignore[arg-type]
    )
    for text in (repr(settings), str(settings), str(settings.model_dump())):
        assert "zz-secret" not in text


def test_check_reports_reachability_credentials_and_the_account(
    upstream: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in gateway_env(upstream).items():
        if name.startswith(("TWILIO_", "STUDIO_GATEWAY_")):
            monkeypatch.setenv(name, value)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "reachable: yes" in out and "credentials: accepted" in out
    assert DEMO_ACCOUNT_SID in out and DEMO_AUTH_TOKEN not in out

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "wrong-token-zz")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "REJECTED" in out and "wrong-token-zz" not in out

    monkeypatch.setenv("STUDIO_GATEWAY_UPSTREAM_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("STUDIO_GATEWAY_MAX_ATTEMPTS", "1")
    assert main(["check"]) == 1
    assert "reachable: NO" in capsys.readouterr().out


def test_sigterm_turns_readiness_off_finishes_in_flight_requests_and_exits_zero(
    upstream: str, emulator: Emulator
) -> None:
    with gateway_process(upstream, STUDIO_GATEWAY_DRAIN_SECONDS=str(DRAIN_SECONDS)) as gateway:
        url = gateway.url

        def query(size: int) -> httpx.Response:
            # Four sizes: four upstream calls, as identical reads would share one.
            document = f"{{ flows(first: {size}) {{ nodes {{ sid }} }} }}"
            return httpx.post(f"{url}/graphql", json={"query": document}, timeout=15)

        def draining() -> bool:
            ready = httpx.get(f"{url}/readyz", timeout=2)
            return ready.status_code == 503 and ready.json()["checks"]["draining"] == "yes"

        def refusing() -> bool:
            try:
                httpx.get(f"{url}/healthz", timeout=2)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                # Refused, or accepted by the closing server and dropped unanswered
                # (closed, or reset).
                return True
            return False

        with ThreadPoolExecutor(4) as pool:
            with paused(emulator):
                futures = [pool.submit(query, size) for size in range(1, 5)]
                until_blocking(lambda: emulator.in_flight == 4)  # all four wait on the upstream
                gateway.process.send_signal(signal.SIGTERM)
                until_blocking(draining)
                # Past the drain, the server accepts nothing new.
                until_blocking(refusing, DRAIN_SECONDS + SLACK)
                assert not any(f.done() for f in futures)

            responses = [f.result() for f in futures]
        assert [r.status_code for r in responses] == [200] * 4
        assert all("errors" not in r.json() and r.json()["data"]["flows"] for r in responses)
        assert gateway.process.wait(timeout=15) == 0


def test_several_workers_serve_and_their_metrics_add_up(upstream: str, tmp_path) -> None:
    with gateway_process(
        upstream, "--workers", "2", PROMETHEUS_MULTIPROC_DIR=str(tmp_path)
    ) as gateway:
        for _ in range(6):
            response = httpx.post(
                f"{gateway.url}/graphql", json={"query": "query Six { flows { nodes { sid } } }"}
            )
            assert response.status_code == 200 and "errors" not in response.json()
        metrics = httpx.get(f"{gateway.url}/metrics").text
        assert (
            'studio_gateway_graphql_requests_total{operation="Six",outcome="ok",type="query"} 6.0'
            in metrics
        )
        gateway.stop()


def test_serve_refuses_a_public_address_without_client_auth(
    upstream: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in gateway_env(upstream).items():
        if name.startswith(("TWILIO_", "STUDIO_GATEWAY_")):
            monkeypatch.setenv(name, value)
    assert main(["serve", "--host", "0.0.0.0", "--port", str(free_port())]) == 2
    assert "without client authentication" in capsys.readouterr().err


async def test_sigterm_closes_open_websockets_with_going_away_after_the_drain(
    upstream: str, emulator: Emulator
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    with gateway_process(upstream, STUDIO_GATEWAY_DRAIN_SECONDS=str(DRAIN_SECONDS)) as gateway:
        url = "ws" + gateway.url.removeprefix("http") + "/graphql"
        async with connected(url) as client, httpx.AsyncClient(base_url=gateway.url) as http:
            updates = await client.subscribe(UPDATES, {"flow": flow, "execution": execution})
            await until(lambda: bool(updates.results))
            gateway.process.send_signal(signal.SIGTERM)
            await until(lambda: _draining(http))
            # Readiness is off, and the subscriber still served during the drain.
            assert client.socket.close_code is None
            await until(lambda: client.socket.close_code is not None, DRAIN_SECONDS + SLACK)
        assert client.socket.close_code == 1001
        assert "shutting down" in (client.socket.close_reason or "")
        assert not updates.errors
        assert gateway.process.wait(timeout=15) == 0


async def _draining(http: httpx.AsyncClient) -> bool:
    ready = await http.get("/readyz")
    return ready.status_code == 503 and ready.json()["checks"]["draining"] == "yes"


def test_a_serving_process_keeps_what_start_up_built_out_of_collections() -> None:
    # The app as `serve` builds it, in a process of its own: freezing is for servers only.
    program = (
        "import gc; from gateway.app import app_from_env; app_from_env(); "
        "print(gc.get_freeze_count())"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        env=gateway_env("http://127.0.0.1:9"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    frozen = int(done.stdout)

    assert frozen > 10_000  # the modules and the schema, at least
