"""`studio-gateway`: the command line (`build_parser`) and what each command runs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.settings import Settings
    from gateway.settings.explain import Setting
    from gateway.studio import Credentials

EXAMPLE_QUERY = """{
  flows(first: 3) {
    nodes {
      friendlyName
      executions(first: 2) {
        nodes { sid status steps(first: 3) { nodes { name transitionedTo } } }
      }
    }
  }
}"""
#: What the demo suggests when executions run live (`--live`).
EXAMPLE_SUBSCRIPTION = """subscription {
  flowExecutions(flowSid: "%s") { sid status dateCreated }
}"""


#: The emulator's seeded sizes, for its help (gateway.emulator.emulator's DEFAULT_*, which
#: a test holds these to): importing the emulator would cost every command half a second.
SEEDED_FLOWS = 6
SEEDED_EXECUTIONS_PER_FLOW = 12
SEEDED_STEPS_PER_EXECUTION = 6

#: Where settings come from, said once under every command's help.
SETTINGS_EPILOG = (
    "Settings come from the environment (STUDIO_GATEWAY_*, and Twilio's own TWILIO_*) and "
    "an optional .env file in the working directory; `studio-gateway settings` shows each "
    "value and where it came from."
)


class HelpWithDefaults(argparse.HelpFormatter):
    """Help that names every option's default: an option whose text does not say it gets
    `(default: …)`, so one added anywhere in the parser documents it too."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or not action.option_strings or action.default is argparse.SUPPRESS:
            return text
        if action.default is None:
            shown = "unset"
        elif isinstance(action.default, bool):
            shown = "on" if action.default else "off"
        else:
            shown = "%(default)s"
        return f"{text} (default: {shown})".lstrip()


def build_parser(width: int | None = None) -> argparse.ArgumentParser:
    """The `studio-gateway` command line; `width` fixes the help's width (the docs use it)."""
    from gateway import __version__

    formatter = functools.partial(HelpWithDefaults, width=width) if width else HelpWithDefaults

    class Parser(argparse.ArgumentParser):
        # Every parser, subcommands' included (argparse makes them of this class), has
        # the same help formatter.
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("formatter_class", formatter)
            super().__init__(*args, **kwargs)

    parser = Parser(
        prog="studio-gateway",
        description="A GraphQL gateway in front of Twilio Studio's v2 REST API.",
        epilog=SETTINGS_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, details: str = "") -> argparse.ArgumentParser:
        description = f"{summary[0].upper()}{summary[1:]}." + (f" {details}" if details else "")
        return commands.add_parser(
            name, help=summary, description=description, epilog=SETTINGS_EPILOG
        )

    serve = command(
        "serve",
        "serve the gateway against the configured upstream",
        "Reads every setting; these options override three of them.",
    )
    for flag, field, kind in (
        ("--host", "host", str),
        ("--port", "port", int),
        ("--workers", "workers", int),
    ):
        serve.add_argument(flag, type=kind, help=setting(field).help())

    demo = command(
        "demo",
        "the gateway in front of a seeded emulator",
        "Development mode on a loopback address: GraphiQL, introspection, no client "
        "authentication; reads no setting. `make demo` runs it with --live 10.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    demo.add_argument("--port", type=int, default=8000, help="the gateway's port")
    demo.add_argument(
        "--emulator-port",
        type=int,
        default=8900,
        help="the emulator's port, on 127.0.0.1",
    )
    demo.add_argument(
        "--live",
        type=float,
        metavar="SECONDS",
        help="start an execution every SECONDS; its steps, a second apart, reach the gateway "
        "as signed Event Streams webhooks (default: off)",
    )

    emulator = command(
        "emulator",
        "serve the Studio v2 emulator alone",
        "Its account is a seeded demo account, or the one TWILIO_ACCOUNT_SID and "
        "TWILIO_AUTH_TOKEN name when both are set.",
    )
    emulator.add_argument("--host", default="127.0.0.1", help="address to listen on")
    emulator.add_argument("--port", type=int, default=8900, help="port to listen on")
    emulator.add_argument("--seed", type=int, default=7, help="seed of the generated data")
    emulator.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="seconds added to every answer",
    )
    emulator.add_argument("--flows", type=int, help=f"seeded flows (default: {SEEDED_FLOWS})")
    emulator.add_argument(
        "--executions",
        type=int,
        help=f"seeded executions per flow (default: {SEEDED_EXECUTIONS_PER_FLOW})",
    )
    emulator.add_argument(
        "--steps",
        type=int,
        help=f"most steps per seeded execution (default: {SEEDED_STEPS_PER_EXECUTION})",
    )
    emulator.add_argument(
        "--create-limit",
        type=int,
        metavar="N",
        help="answer 429 (code 20429) to creates of executions beyond N a second per account "
        "(default: no limit)",
    )
    emulator.add_argument(
        "--create-limiter",
        default="token-bucket",
        help="how --create-limit counts: token-bucket (the default), fixed-window or "
        "sliding-window (Twilio does not say which it uses)",
    )
    emulator.add_argument(
        "--admin",
        action="store_true",
        help="serve /_emulator/requests (request counters) too (default: off)",
    )

    command("export-schema", "print the GraphQL schema (SDL)", "It equals schema.graphql.")
    command(
        "cache-key",
        f"print a new key for {setting('cache_encryption_keys').env}",
        "32 random bytes, base64: put it first in the list to seal with it.",
    )
    hash_key = command(
        "hash-key",
        "make a client API key and its config entry",
        f"Prints the key (give it to the client) and the JSON entry for "
        f"{setting('api_keys').env}, which holds only its SHA-256.",
    )
    hash_key.add_argument("name", help="who the key is for, e.g. ios-app")
    hash_key.add_argument(
        "--scopes",
        default="flows:read,executions:read",
        help="comma-separated, from: flows:read flows:write executions:read "
        "executions:write pii:read",
    )
    command(
        "check",
        "check the configuration and the upstream credentials",
        "Loads the settings, then asks Twilio (or the upstream URL) for one flow.",
    )
    shown = command(
        "settings",
        "print the effective settings and where each came from",
        "Each setting's variable, its value (secrets masked) and its source: the "
        "environment, .env, or the default.",
    )
    shown.add_argument(
        "--json", action="store_true", help="one JSON object per setting (default: a table)"
    )
    safelist = command(
        "safelist",
        "make the safelist STUDIO_GATEWAY_SAFELIST_FILE loads",
        "See `studio-gateway safelist build --help`.",
    )
    safelist_commands = safelist.add_subparsers(
        dest="safelist_command", required=True, metavar="ACTION"
    )
    build = safelist_commands.add_parser(
        "build",
        help="validate and price operations and write them as a safelist",
        description=(
            "Read operations from .graphql files or a client's persisted-query manifest "
            "(Apollo's persisted-query-manifest.json, Relay's persisted_queries.json), "
            "validate each against the schema, print each one's upstream cost, and write "
            f"the safelist {setting('safelist_file').env} names. Exits 1, naming the file "
            "and the operation, when one is invalid."
        ),
    )
    build.add_argument(
        "sources", nargs="+", metavar="SRC", help="a .graphql file or a manifest (.json)"
    )
    build.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write the safelist (default: standard output)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(_COMMANDS[args.command](args) or 0)
    except _Fatal as error:
        print(f"studio-gateway: {error}", file=sys.stderr)
        return 2


def setting(field: str) -> Setting:
    """The setting a help text names."""
    from gateway.settings.explain import setting as described

    return described(field)


class _Fatal(Exception):
    pass


def _settings(**overrides: object) -> object:
    from gateway.settings import SettingsError, load_settings

    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as error:
        raise _Fatal(str(error)) from None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway import server
    from gateway.settings import Settings, SettingsError

    settings = _settings(host=args.host, port=args.port, workers=args.workers)
    assert isinstance(settings, Settings)
    try:
        if settings.upstream_credentials == "server":
            _credentials(settings)
        settings.base_url()
    except SettingsError as error:
        raise _Fatal(str(error)) from None
    if (
        settings.auth == "none"
        and not _loopback(settings.host)
        and not settings.allow_unauthenticated
    ):
        raise _Fatal(
            f"refusing to serve {settings.host} without client authentication: set "
            "STUDIO_GATEWAY_AUTH (api_keys or jwt), or STUDIO_GATEWAY_ALLOW_UNAUTHENTICATED=true "
            "for a private network"
        )
    # Workers re-read the environment; pass the command line on through it.
    for name, value in (("HOST", args.host), ("PORT", args.port), ("WORKERS", args.workers)):
        if value is not None:
            os.environ[f"STUDIO_GATEWAY_{name}"] = str(value)
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its metrics here; /metrics sums them.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="studio-gateway-metrics-")
    # uvicorn re-raises SIGTERM once it has shut down gracefully; exit 0 then.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    uvicorn.run(
        "gateway.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        timeout_graceful_shutdown=int(max(1, settings.shutdown_grace)),
        **server.options(settings),
    )
    return 0


def _credentials(settings: Settings) -> Credentials:
    """The gateway's own Twilio credentials; missing ones say what to set, or what to run
    instead to try the gateway without Twilio."""
    from gateway.settings import SettingsError

    try:
        return settings.credentials()
    except SettingsError as error:
        raise SettingsError(
            f"{error}. Set TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and "
            "TWILIO_API_SECRET) to reach Twilio; to try it without Twilio, run "
            "`studio-gateway demo`, or serve `studio-gateway emulator`, set "
            f"{setting('upstream_url').env} to it and use the demo account it prints"
        ) from None


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _cache_key(args: argparse.Namespace) -> int:
    from gateway.cache import new_key

    print(new_key())
    return 0


def _emulator(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.emulator import Emulator, create_app

    sizes = {
        name: value
        for name, value in (
            ("flows", args.flows),
            ("executions_per_flow", args.executions),
            ("steps_per_execution", args.steps),
        )
        if value is not None
    }
    emulator, message = Emulator.from_env(os.environ, seed=args.seed, **sizes)
    from gateway.emulator.limits import CREATE_LIMITERS

    if args.create_limiter not in CREATE_LIMITERS:
        raise _Fatal(f"--create-limiter must be one of {', '.join(CREATE_LIMITERS)}")
    emulator.latency = args.latency
    emulator.create_limiter = args.create_limiter
    emulator.create_limit = args.create_limit
    print(f"Studio emulator on http://{args.host}:{args.port}/v2 — {message}", flush=True)
    uvicorn.run(
        create_app(emulator, admin=args.admin),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway import server
    from gateway.app import create_app as gateway_app
    from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator
    from gateway.emulator import create_app as emulator_app
    from gateway.observability import configure_logging
    from gateway.settings import Settings

    emulator = Emulator.seeded(seed=7)
    upstream = f"http://127.0.0.1:{args.emulator_port}"
    settings = Settings(
        upstream_url=upstream,
        twilio_account_sid=DEMO_ACCOUNT_SID,
        twilio_auth_token=DEMO_AUTH_TOKEN,
        host=args.host,
        port=args.port,
        environment="development",
        log_format="text",
        events=args.live is not None,
    )
    if not _loopback(args.host):
        raise _Fatal("the demo has no client authentication: serve it on a loopback address")
    configure_logging("info", "text")

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # The demo answers Ctrl+C itself, once for both servers and the live mode:
            # two servers each installing its handler over the other's lose it.
            yield

    servers = [
        Server(
            uvicorn.Config(
                emulator_app(emulator),
                host="127.0.0.1",
                port=args.emulator_port,
                log_level="warning",
                access_log=False,
            )
        ),
        Server(
            uvicorn.Config(
                gateway_app(settings),
                host=args.host,
                port=args.port,
                log_level="info",
                **server.options(settings),
            )
        ),
    ]
    print(
        f"\nStudio emulator (seeded demo account) on {upstream}/v2\n"
        f"GraphiQL: open http://{args.host}:{args.port}/graphql in a browser\n\n"
        f"Try:\n{EXAMPLE_QUERY}\n",
        flush=True,
    )
    if args.live is not None:
        survey = emulator.seeded_handles.survey_flow_sid
        print(
            f"An execution of the survey starts every {args.live:g} s; watch them live "
            "(in GraphiQL):\n"
            f"{EXAMPLE_SUBSCRIPTION % survey}\n",
            flush=True,
        )

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def interrupted() -> None:
            if stop.is_set():  # a second Ctrl+C: without waiting for open connections
                for served in servers:
                    served.force_exit = True
            stop.set()

        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, interrupted)
        serving = [asyncio.create_task(served.serve()) for served in servers]
        live = starting = None
        if args.live is not None:
            from gateway.emulator.live import LiveMode, LiveOptions

            host = f"[{args.host}]" if ":" in args.host else args.host
            hook = f"http://{host}:{args.port}{settings.events_path}"
            live = LiveMode(emulator, LiveOptions(url=hook, step_interval=1.0))
            live.adopt_active()
            survey = emulator.seeded_handles.survey_flow_sid
            starting = asyncio.create_task(live.keep_starting(every=args.live, flow_sid=survey))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([*serving, stopped], return_when=asyncio.FIRST_COMPLETED)
        # The live mode first: nothing may post to the gateway once it goes.
        if live is not None and starting is not None:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await live.stop()
        for served in servers:
            served.should_exit = True
        stopped.cancel()
        await asyncio.gather(*serving)

    asyncio.run(run())
    print("Demo stopped.", flush=True)
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from gateway.graphql import export_sdl

    sys.stdout.write(export_sdl())
    return 0


def _hash_key(args: argparse.Namespace) -> int:
    import json

    from gateway.security.auth import new_key
    from gateway.security.principal import SCOPES

    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    unknown = set(scopes) - SCOPES
    if unknown:
        raise _Fatal(f"unknown scopes: {', '.join(sorted(unknown))}")
    key, digest = new_key()
    print(f"key (give it to the client; it is not stored anywhere): {key}")
    print("entry for STUDIO_GATEWAY_API_KEYS:")
    print(json.dumps({"name": args.name, "sha256": digest, "scopes": scopes}))
    return 0


def _check(args: argparse.Namespace) -> int:
    from gateway.settings import Settings, SettingsError
    from gateway.studio import StudioClient, StudioError, Transport

    settings = _settings()
    assert isinstance(settings, Settings)
    try:
        credentials = _credentials(settings)
        config = settings.client_config()
    except SettingsError as error:
        raise _Fatal(str(error)) from None
    print(f"upstream: {config.base_url}")
    print(f"account:  {credentials.account_sid}")

    async def probe() -> int:
        client = StudioClient(Transport(config), credentials)
        try:
            await client.list_flows(page_size=1)
        except StudioError as error:
            if error.status in (401, 403):
                print("reachable: yes\ncredentials: REJECTED by Twilio (check the token or key)")
            elif error.status is not None:
                print(f"reachable: yes\ncredentials: unknown (Twilio answered HTTP {error.status})")
            else:
                print(f"reachable: NO ({error.message})")
            return 1
        finally:
            await client.aclose()
        print("reachable: yes\ncredentials: accepted")
        return 0

    return asyncio.run(probe())


def _show_settings(args: argparse.Namespace) -> int:
    import json

    from gateway.settings import Settings
    from gateway.settings.explain import effective

    settings = _settings()
    assert isinstance(settings, Settings)
    rows = list(effective(settings))
    if args.json:
        for described, value, source in rows:
            print(json.dumps({"name": described.env, "value": value, "source": source}))
        return 0
    names = max(len(described.env) for described, _, _ in rows)
    values = min(40, max(len(value) for _, value, _ in rows))
    group = None
    for described, value, source in rows:
        if described.group != group:
            print(f"{'' if group is None else chr(10)}# {described.group}")
            group = described.group
        print(f"{described.env:<{names}}  {value or '(empty)':<{values}}  {source}")
    return 0


def _safelist(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from gateway.graphql import build_schema
    from gateway.graphql.limits import Limits
    from gateway.safelist import SafelistError, build, read_sources

    try:
        safelist, operations = build(
            build_schema()._schema, read_sources(Path(s) for s in args.sources)
        )
    except SafelistError as error:
        print(f"studio-gateway safelist: {error}", file=sys.stderr)
        return 1
    text = json.dumps(safelist, indent=2, ensure_ascii=False) + "\n"
    # The report goes where the safelist does not.
    report = sys.stderr if args.output is None else sys.stdout
    budget = Limits().max_cost
    for operation in operations:
        note = f"  (over the default {setting('max_cost').env}, {budget})" * (
            operation.cost > budget
        )
        print(
            f"{operation.cost:>6} upstream calls at most  {operation.kind} {operation.name}  "
            f"{operation.digest[:12]}…  {operation.where}{note}",
            file=report,
        )
    print(f"{len(safelist)} documents, {len(operations)} operations", file=report)
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}: set {setting('safelist_file').env} to it", file=report)
    return 0


_COMMANDS = {
    "serve": _serve,
    "demo": _demo,
    "emulator": _emulator,
    "cache-key": _cache_key,
    "export-schema": _export_schema,
    "hash-key": _hash_key,
    "check": _check,
    "settings": _show_settings,
    "safelist": _safelist,
}
