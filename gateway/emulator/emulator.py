"""The emulator: accounts and their data, knobs, faults and request counters."""

from __future__ import annotations

import random
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType

from gateway.emulator import sids
from gateway.emulator.auth import (
    DEMO_ACCOUNT_SID,
    DEMO_AUTH_TOKEN,
    ApiKey,
    parse_basic,
    secrets_match,
)
from gateway.emulator.dates import utc_now
from gateway.emulator.faults import Faults
from gateway.emulator.handles import SeededHandles
from gateway.emulator.limits import CreateLimit, CreateLimiter
from gateway.emulator.seed import SeedSizes, seed_account
from gateway.emulator.state import AccountState

DEFAULT_FLOWS = 6
DEFAULT_EXECUTIONS_PER_FLOW = 12
DEFAULT_STEPS_PER_EXECUTION = 6


class Emulator:
    """An in-memory Twilio Studio v2: serve it with `create_app(emulator)`.

    Knobs are plain attributes read on every request:
        paused: while True, requests wait (counted, and in flight) before anything
            else happens to them; set it back to False to let them go on. Tests
            hold calls in flight with it instead of guessing a latency.
        latency: seconds added to every request.
        jitter: up to this many more seconds, uniformly at random.
        faults: injected failures (see `Faults`).
        clock: what "now" is for resources created over the API.
        create_limit: creates of executions allowed per second per account, as
            Twilio enforces them (None: unlimited); see `gateway.emulator.limits`.
        create_limiter: how that limit counts: "token-bucket" (the default),
            "fixed-window" or "sliding-window" (Twilio does not say which it uses).
    Counters for tests:
        requests: requests per "METHOD /v2/route/template", including those that
            failed authentication or got an injected fault.
        in_flight, max_in_flight: requests being handled now, and the most at once.
        throttled: creates refused by `create_limit` (429, code 20429), by account.
    """

    def __init__(self, *, seed: int = 0, clock: Callable[[], datetime] | None = None) -> None:
        self.seed = seed
        self.clock: Callable[[], datetime] = clock or utc_now
        self.paused = False
        self.latency = 0.0
        self.jitter = 0.0
        self.faults = Faults(random.Random(f"faults:{seed}"))
        self.requests: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self._create_limit: CreateLimit | None = None
        self._create_limiter: CreateLimiter = "token-bucket"
        self.in_flight = 0
        self.max_in_flight = 0
        self._jitter_rng = random.Random(f"jitter:{seed}")
        self._accounts: dict[str, AccountState] = {}
        self._api_keys: dict[str, ApiKey] = {}
        self._primary: str | None = None

    @classmethod
    def seeded(
        cls,
        seed: int = 7,
        flows: int = DEFAULT_FLOWS,
        executions_per_flow: int = DEFAULT_EXECUTIONS_PER_FLOW,
        steps_per_execution: int = DEFAULT_STEPS_PER_EXECUTION,
        *,
        account_sid: str = DEMO_ACCOUNT_SID,
        auth_token: str = DEMO_AUTH_TOKEN,
        now: datetime | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Emulator:
        """An emulator with one seeded account; the same seed and `now` give the same data.

        Seeded dates lie before `now` (default: the current time).
        """
        emulator = cls(seed=seed, clock=clock)
        emulator.add_account(
            account_sid,
            auth_token,
            seed=seed,
            flows=flows,
            executions_per_flow=executions_per_flow,
            steps_per_execution=steps_per_execution,
            now=now,
        )
        return emulator

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        *,
        seed: int = 7,
        flows: int = DEFAULT_FLOWS,
        executions_per_flow: int = DEFAULT_EXECUTIONS_PER_FLOW,
        steps_per_execution: int = DEFAULT_STEPS_PER_EXECUTION,
    ) -> tuple[Emulator, str]:
        """A seeded emulator that accepts TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN when both
        are set, the demo credentials otherwise, and a line saying which.

        The line never shows a real token; the demo token is public, so it is shown.
        """
        account_sid = environ.get("TWILIO_ACCOUNT_SID", "").strip()
        auth_token = environ.get("TWILIO_AUTH_TOKEN", "").strip()
        if account_sid and auth_token:
            if not sids.is_sid(account_sid, sids.ACCOUNT):
                raise ValueError(
                    "TWILIO_ACCOUNT_SID must be 'AC' followed by 32 hex digits; "
                    "unset it to use the demo account"
                )
            emulator = cls.seeded(
                seed,
                flows,
                executions_per_flow,
                steps_per_execution,
                account_sid=account_sid,
                auth_token=auth_token,
            )
            return emulator, (
                f"accepting account {account_sid} with the auth token from TWILIO_AUTH_TOKEN"
            )
        note = ""
        if account_sid or auth_token:
            note = " (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must both be set to use yours)"
        emulator = cls.seeded(seed, flows, executions_per_flow, steps_per_execution)
        return emulator, (
            f"accepting the demo account {DEMO_ACCOUNT_SID} with auth token {DEMO_AUTH_TOKEN}{note}"
        )

    def add_account(
        self,
        account_sid: str,
        auth_token: str,
        *,
        seed: int | None = None,
        flows: int = DEFAULT_FLOWS,
        executions_per_flow: int = DEFAULT_EXECUTIONS_PER_FLOW,
        steps_per_execution: int = DEFAULT_STEPS_PER_EXECUTION,
        now: datetime | None = None,
    ) -> None:
        """Add an account with its own seeded data (none when `flows` is 0).

        Without a `seed`, one is derived from the emulator's seed and the account SID.
        """
        if not sids.is_sid(account_sid, sids.ACCOUNT):
            raise ValueError(f"{account_sid!r} is not an account SID ('AC' + 32 hex digits)")
        if account_sid in self._accounts:
            raise ValueError(f"account {account_sid} already exists")
        if seed is None:
            seed = self.seed ^ zlib.crc32(account_sid.encode())
        account = AccountState.create(account_sid, auth_token, seed)
        sizes = SeedSizes(flows, executions_per_flow, steps_per_execution)
        seed_account(account, seed=seed, sizes=sizes, now=now or self.clock())
        self._accounts[account_sid] = account
        if self._primary is None:
            self._primary = account_sid

    def add_api_key(self, key_sid: str, secret: str, account_sid: str) -> None:
        """Let Basic auth with `key_sid`/`secret` act as `account_sid`."""
        if not sids.is_sid(key_sid, sids.API_KEY):
            raise ValueError(f"{key_sid!r} is not an API key SID ('SK' + 32 hex digits)")
        if account_sid not in self._accounts:
            raise ValueError(f"no account {account_sid}; add it first")
        self._api_keys[key_sid] = ApiKey(key_sid, secret, account_sid)

    @property
    def account_sid(self) -> str:
        """The first account's SID: the seeded one, for an emulator from `seeded()`."""
        if self._primary is None:
            raise LookupError("this emulator has no account yet; add one with add_account()")
        return self._primary

    @property
    def accounts(self) -> Mapping[str, AccountState]:
        return MappingProxyType(self._accounts)

    def account(self, account_sid: str) -> AccountState:
        try:
            return self._accounts[account_sid]
        except KeyError:
            raise LookupError(f"no account {account_sid} in this emulator") from None

    @property
    def seeded_handles(self) -> SeededHandles:
        """Handles on the first account's seeded data."""
        account = self._accounts.get(self._primary or "")
        if account is None or account.handles is None:
            raise LookupError(
                "seeded handles need a seeded account with flows >= 5, "
                "executions_per_flow >= 3 and steps_per_execution >= 3"
            )
        return account.handles

    def authenticate(self, authorization: str | None) -> AccountState | None:
        """The account a Basic Authorization header acts as, or None."""
        credentials = parse_basic(authorization)
        if credentials is None:
            return None
        username, password = credentials
        key = self._api_keys.get(username)
        if key is not None:
            if not secrets_match(key.secret, password):
                return None
            return self._accounts.get(key.account_sid)
        account = self._accounts.get(username)
        if account is not None and secrets_match(account.auth_token, password):
            return account
        return None

    @property
    def create_limit(self) -> int | None:
        return self._create_limit.per_second if self._create_limit is not None else None

    @create_limit.setter
    def create_limit(self, per_second: int | None) -> None:
        self._create_limit = None
        if per_second is not None:
            self._create_limit = CreateLimit(per_second, limiter=self._create_limiter)

    @property
    def create_limiter(self) -> CreateLimiter:
        return self._create_limiter

    @create_limiter.setter
    def create_limiter(self, limiter: CreateLimiter) -> None:
        per_second = self.create_limit
        self._create_limiter = limiter
        if per_second is not None:
            self._create_limit = CreateLimit(per_second, limiter=limiter)  # counting anew

    def admit_create(self, account_sid: str) -> bool:
        """Whether the account may create an execution now; a refusal is counted."""
        if self._create_limit is None or self._create_limit.admit(account_sid):
            return True
        self.throttled[account_sid] += 1
        return False

    def request_delay(self) -> float:
        """This request's added latency: `latency` plus up to `jitter`."""
        extra = self._jitter_rng.uniform(0, self.jitter) if self.jitter > 0 else 0.0
        return max(0.0, self.latency + extra)

    def begin_request(self, route_key: str) -> None:
        self.requests[route_key] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def end_request(self) -> None:
        self.in_flight -= 1

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def reset_counters(self) -> None:
        self.requests.clear()
        self.throttled.clear()
        self.max_in_flight = self.in_flight
