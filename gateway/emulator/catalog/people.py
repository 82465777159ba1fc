"""Who the seeded flows talk to: realistic contact and sender addresses."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

_US_AREAS: Final = ("415", "628", "212", "646", "312", "617", "206", "512", "303", "404")
_WHATSAPP_SANDBOX: Final = "whatsapp:+14155238886"


def us_number(rng: random.Random) -> str:
    return f"+1{rng.choice(_US_AREAS)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"


def _international(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"+447{rng.randint(100000000, 999999999)}"  # UK mobile
    if kind == 1:
        return f"+4915{rng.randint(100000000, 999999999)}"  # German mobile
    if kind == 2:
        return f"+614{rng.randint(10000000, 99999999)}"  # Australian mobile
    return f"+5511{rng.randint(910000000, 999999999)}"  # São Paulo mobile


def _spanish_speaking(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return f"+34{rng.choice('67')}{rng.randint(10000000, 99999999)}"
    return f"+521{rng.choice(('55', '33', '81'))}{rng.randint(10000000, 99999999)}"


@dataclass(frozen=True, slots=True)
class Channel:
    """The addresses one flow talks from, and a pool of contacts it talks to."""

    senders: tuple[str, ...]
    contacts: tuple[str, ...]
    whatsapp_contacts: tuple[str, ...]

    def pick(self, rng: random.Random, *, whatsapp_share: float = 0.0) -> tuple[str, str]:
        """A (To, From) pair: the contact's address and the flow's sending address."""
        if self.whatsapp_contacts and rng.random() < whatsapp_share:
            return rng.choice(self.whatsapp_contacts), _WHATSAPP_SANDBOX
        return rng.choice(self.contacts), rng.choice(self.senders)

    def fresh(self, rng: random.Random) -> str:
        """A contact address outside the pool, for when every pooled one is busy."""
        return us_number(rng)


def channel_for(kind: str, rng: random.Random, size: int) -> Channel:
    """The senders and contact pool of a flow on channel `kind`."""
    size = max(size, 8)
    if kind == "es-sms":
        senders: tuple[str, ...] = (f"+3491{rng.randint(1000000, 9999999)}",)
        contacts = tuple(_spanish_speaking(rng) for _ in range(size))
        return Channel(senders, contacts, ())
    if kind == "voice":
        senders = (f"+1888{rng.randint(2000000, 9999999)}", us_number(rng))
        contacts = tuple(
            f"client:{rng.choice(('ana', 'raj', 'li', 'omar'))}_{rng.randint(10, 99)}"
            if rng.random() < 0.05
            else us_number(rng)
            for _ in range(size)
        )
        return Channel(senders, contacts, ())
    senders = (us_number(rng), us_number(rng))
    contacts = tuple(
        us_number(rng) if rng.random() < 0.8 else _international(rng) for _ in range(size)
    )
    whatsapp = tuple(f"whatsapp:{_international(rng)}" for _ in range(max(2, size // 4)))
    return Channel(senders, contacts, whatsapp)
