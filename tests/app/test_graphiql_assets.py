"""The vendored GraphiQL files are exactly the pinned npm packages' files.

`make graphiql-assets` installs `assets/graphiql` from its lockfile and copies
the files with a manifest; this keeps the three in step.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).parents[2]
ASSETS = ROOT / "assets" / "graphiql"
VENDOR = ROOT / "gateway" / "static" / "graphiql" / "vendor"


def test_the_vendored_files_are_the_pinned_packages_files() -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    lock = json.loads((ASSETS / "package-lock.json").read_text())
    pinned = json.loads((ASSETS / "package.json").read_text())
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == entry["sha256"], name
        package = manifest["packages"][entry["package"]]
        locked = lock["packages"]["node_modules/" + entry["package"]]
        assert package["version"] == locked["version"] == pinned["dependencies"][entry["package"]]
        assert package["integrity"] == locked["integrity"]
    served = {p.name for p in VENDOR.glob("*") if p.suffix in (".js", ".css")}
    assert served == set(manifest["files"])
    for package in manifest["packages"].values():
        assert package["license"] == "MIT"
