"""Content negotiation: what a client's `Accept` and `Accept-Encoding` ask for.

Both headers are lists of values with quality weights (RFC 9110 §12.4.2):
`application/graphql-response+json, application/json;q=0.9` or
`br;q=1.0, gzip;q=0.8, *;q=0.1`. A weight of 0 means "not acceptable".
An answer chosen by a request header names it in `Vary` (`add_vary`).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders

__all__ = ["add_vary", "choose_encoding", "choose_media_type", "weights"]


def weights(header: str) -> list[tuple[str, float]]:
    """The header's values (lower-cased, parameters other than `q` dropped) and weights."""
    found = []
    for item in header.split(","):
        value, *params = item.split(";")
        value = value.strip().lower()
        if not value:
            continue
        weight = 1.0
        for param in params:
            name, _, number = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = min(1.0, max(0.0, float(number.strip())))
                except ValueError:
                    weight = 0.0  # a weight nobody can read accepts nothing
        found.append((value, weight))
    return found


def choose_media_type(accept: str | None, offers: Sequence[str], default: str) -> str:
    """The offer the client weighs highest; on a tie, one it named over one only a
    wildcard matched, then the earlier offer, except that among wildcard matches
    `default` wins (`*/*` means "whatever you usually send"). `default` also when
    the client sends no `Accept` or accepts none of the offers: answering beats a
    406 that no client handles."""
    if not accept:
        return default
    listed = weights(accept)
    best: tuple[float, int, bool, int] | None = None
    chosen = default
    for rank, offer in enumerate(offers):
        kind = offer.split("/")[0] + "/*"
        weight, exactness = 0.0, -1
        for value, q in listed:
            match = 2 if value == offer else 1 if value == kind else 0 if value == "*/*" else -1
            if match > exactness:  # the most specific range decides (RFC 9110 §12.5.1)
                weight, exactness = q, match
        if weight > 0:
            key = (weight, exactness, exactness < 2 and offer == default, -rank)
            if best is None or key > best:
                best, chosen = key, offer
    return chosen


def choose_encoding(accept_encoding: str | None, offers: Sequence[str]) -> str | None:
    """The content coding to use, or None for none (identity).

    The highest weight wins, the earlier offer on a tie; `*` stands for every
    coding not named; a coding the client names at q=0 is never used, and
    `identity` wins only when the client names it above every coding.
    """
    if not accept_encoding:
        return None
    listed = {("gzip" if value == "x-gzip" else value): q for value, q in weights(accept_encoding)}
    other = listed.get("*", 0.0)
    best, chosen = 0.0, None
    for offer in offers:
        weight = listed.get(offer, other)
        if weight > best:
            best, chosen = weight, offer
    return None if listed.get("identity", 0.0) > best else chosen


def add_vary(headers: MutableHeaders, *names: str) -> None:
    """Add names to `Vary`, each once (whatever case it already has)."""
    present = [v.strip() for v in ", ".join(headers.getlist("vary")).split(",") if v.strip()]
    known = {v.lower() for v in present}
    missing = [n for n in names if n.lower() not in known]
    if missing:
        headers["vary"] = ", ".join([*present, *missing])
