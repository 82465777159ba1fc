"""Readers for the deployment files, enough to test them without a Docker engine.

`Dockerfile` instructions and stages, `.dockerignore` matching, and Compose
files as YAML with Compose's own `!reset` and `!override` tags, merged the way
`docker compose -f a -f b` merges them.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = DOCKER / "compose.yaml"
COMPOSE_TWILIO = DOCKER / "compose.twilio.yaml"
NGINX_CONF = DOCKER / "nginx.conf"
COMPOSE_SPEC = ROOT / "tests" / "data" / "compose-spec.json"


# -- Dockerfile ---------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int

    def flags(self) -> dict[str, str]:
        """Leading `--name=value` options, as in `COPY --from=builder` or `HEALTHCHECK`."""
        return dict(_split_flags(self.args)[0])

    def body(self) -> str:
        """The arguments after any leading `--name=value` options."""
        return _split_flags(self.args)[1]

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction, or None for the shell form."""
        body = self.body()
        if self.keyword == "HEALTHCHECK":
            keyword, _, body = body.partition(" ")
            if keyword.upper() != "CMD":
                return None
        body = body.strip()
        if not body.startswith("["):
            return None
        value = json.loads(body)
        assert isinstance(value, list) and all(isinstance(part, str) for part in value)
        return value


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        """The stage's `ENV` values (in the `KEY=value` form), later ones winning."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for item in shlex.split(instruction.args):
                key, sep, value = item.partition("=")
                assert sep, f"line {instruction.line}: use ENV KEY=value, not the legacy form"
                values[key] = value
        return values


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    @property
    def final(self) -> Stage:
        return self.stages[-1]


def instructions(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not parts):
            continue
        if not parts:
            start = number
        if stripped.endswith("\\"):
            parts.append(stripped[:-1].strip())
            continue
        parts.append(stripped)
        keyword, _, args = " ".join(p for p in parts if p).partition(" ")
        found.append(Instruction(keyword.upper(), args.strip(), start))
        parts = []
    assert not parts, "the Dockerfile ends inside a continued line"
    return found


def parse_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in instructions(path.read_text()):
        if instruction.keyword == "FROM":
            words = instruction.body().split()
            base = _expand(words[0], args)
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            assert instruction.keyword == "ARG", f"line {instruction.line}: only ARG before FROM"
            key, _, default = instruction.args.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append(instruction)
    return Dockerfile(args, stages)


def _split_flags(args: str) -> tuple[list[tuple[str, str]], str]:
    flags: list[tuple[str, str]] = []
    rest = args
    while rest.startswith("--"):
        word, _, rest = rest.partition(" ")
        key, _, value = word[2:].partition("=")
        flags.append((key, value))
        rest = rest.lstrip()
    return flags, rest


def _expand(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values[m.group(1) or m.group(2)], text)


# -- .dockerignore --------------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRule:
    pattern: re.Pattern[str]
    exception: bool


def ignore_rules(path: Path = DOCKERIGNORE) -> list[IgnoreRule]:
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        line = line.removeprefix("!").strip().strip("/")
        rules.append(IgnoreRule(re.compile(_glob_to_regex(line)), exception))
    return rules


def is_ignored(relative: str, rules: list[IgnoreRule]) -> bool:
    """Docker's rule: the last pattern that matches the path or a parent of it wins."""
    parts = relative.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for rule in rules:
        if any(rule.pattern.fullmatch(prefix) for prefix in prefixes):
            ignored = not rule.exception
    return ignored


def _glob_to_regex(glob: str) -> str:
    out = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**", i):
            i += 2
            if glob.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = glob.index("]", i)
            out.append(glob[i : end + 1])
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


# -- Compose ----------------------------------------------------------------


class Override(dict[str, Any]):
    """A mapping tagged `!override`: it replaces the base value instead of merging."""


class Reset:
    """A value tagged `!reset`: it removes the base value."""


class ComposeLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that knows Compose's merge tags."""


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    raise yaml.constructor.ConstructorError(
        None, None, "!override on a non-mapping", node.start_mark
    )


ComposeLoader.add_constructor("!override", _override)
ComposeLoader.add_constructor("!reset", lambda loader, node: Reset())


def load_compose(path: Path) -> dict[str, Any]:
    with path.open() as file:
        # ComposeLoader is a SafeLoader: no arbitrary Python objects.
        document = yaml.load(file, Loader=ComposeLoader)
    assert isinstance(document, dict)
    return document


def plain(value: Any) -> Any:
    """The document as JSON Schema sees it: tags gone, `!reset` as null."""
    if isinstance(value, Reset):
        return None
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def merge(base: Any, override: Any) -> Any:
    """Compose's merge: mappings merge, sequences append, scalars and tags replace.

    Enough for these files; the real rules have exceptions (ports, volumes and
    `command` among them) that the files here do not exercise.
    """
    if isinstance(override, Reset):
        return None
    if isinstance(override, Override):
        return plain(dict(override))
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if isinstance(value, Reset):
                merged.pop(key, None)
            else:
                merged[key] = merge(base[key], value) if key in base else plain(value)
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return [*base, *plain(override)]
    return plain(override)


def active_services(document: dict[str, Any], profiles: set[str] | None = None) -> dict[str, Any]:
    """Services that `up` starts: those without profiles, or with an enabled one."""
    enabled = profiles or set()
    return {
        name: service
        for name, service in document["services"].items()
        if not service.get("profiles") or enabled & set(service["profiles"])
    }


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment as a mapping, whichever form the file uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {key: value if sep else None for key, sep, value in pairs}
    return {key: None if value is None else str(value) for key, value in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A service's dependencies as a mapping, whichever form the file uses."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return dict(deps)


# -- nginx --------------------------------------------------------------------


def nginx_upstream_blocks(text: str) -> dict[str, str]:
    """`upstream NAME { ... }` blocks as {NAME: their text}, comments removed."""
    text = re.sub(r"#[^\n]*", "", text)
    return {
        match.group(1): match.group(2)
        for match in re.finditer(r"\bupstream\s+(\S+)\s*\{([^}]*)\}", text)
    }


def nginx_upstreams(text: str) -> dict[str, list[str]]:
    """`upstream NAME { server HOST:PORT ...; }` blocks as {NAME: ["HOST:PORT", ...]}."""
    return {
        name: re.findall(r"^\s*server\s+(\S+?)(?:\s[^;]*)?;", block, re.M)
        for name, block in nginx_upstream_blocks(text).items()
    }


def nginx_directive(text: str, name: str) -> list[list[str]]:
    """The arguments of every `NAME arg ...;` in `text`, wherever it stands."""
    text = re.sub(r"#[^\n]*", "", text)
    pattern = rf"^\s*{re.escape(name)}\s+([^;{{}}]*);"
    return [match.group(1).split() for match in re.finditer(pattern, text, re.M)]


def nginx_seconds(value: str) -> float:
    """An nginx time (`10s`, `4s`, `1m`, `500ms`, or a bare number of seconds)."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h)?", value)
    assert match, f"not an nginx time: {value!r}"
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]
    return int(match.group(1)) * scale


def nginx_bytes(value: str) -> int:
    """An nginx size (`64k`, `1m`, or a bare number of bytes)."""
    match = re.fullmatch(r"(\d+)([kKmMgG])?", value)
    assert match, f"not an nginx size: {value!r}"
    unit = (match.group(2) or "").lower()
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
