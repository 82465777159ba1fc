"""Each package of `gateway` says what it exports, as httpx's `__all__` does: every
name listed exists, the list is sorted, and every public name the package's
`__init__` takes from its own modules is listed."""

from __future__ import annotations

import importlib
import pkgutil
import re
import types

import pytest

import gateway

PACKAGES = sorted(
    f"gateway.{module.name}" for module in pkgutil.iter_modules(gateway.__path__) if module.ispkg
)


def isort_order(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: constants, then classes, then everything else."""
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
        return 0, name
    if name[0].isupper():
        return 1, name
    return 2, name


def own_public_names(package: types.ModuleType) -> set[str]:
    """Public names bound in the package that come from the package itself: not
    submodules, nor what it imports from elsewhere (`Protocol`, `annotations`)."""
    names = set()
    for name, value in vars(package).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        origin = getattr(value, "__module__", None)
        if (
            origin is None
            or origin == package.__name__
            or origin.startswith(package.__name__ + ".")
        ):
            names.add(name)
    return names


def test_every_package_of_the_gateway_is_covered() -> None:
    assert {"gateway.cache", "gateway.security", "gateway.studio", "gateway.graphql"} <= set(
        PACKAGES
    )


@pytest.mark.parametrize("name", PACKAGES)
def test_a_package_lists_what_it_exports_sorted_and_complete(name: str) -> None:
    package = importlib.import_module(name)
    exported = package.__dict__.get("__all__")
    assert exported is not None, f"{name} has no __all__"
    assert [n for n in exported if not hasattr(package, n)] == [], "listed but missing"
    assert len(set(exported)) == len(exported), "listed twice"
    assert list(exported) == sorted(exported, key=isort_order), "not in RUF022 order"
    assert sorted(own_public_names(package) - set(exported)) == [], "exported but not listed"
