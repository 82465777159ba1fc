"""The Secret the README tells an operator to create is the one the manifests read.

The README's `kubectl create secret generic …` replaces secret.yaml in a real
deployment: a key the workloads read that the command leaves out keeps every
pod from starting (CreateContainerConfigError). The manifests are rendered as
`kubectl kustomize deploy/kubernetes` combines them (checked against kubectl
itself where it is installed), and every `secretKeyRef` and secret volume in
them is checked against the command parsed from the README.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZATION = ROOT / "deploy" / "kubernetes"
README = ROOT / "README.md"


def rendered(folder: Path = KUSTOMIZATION) -> list[dict[str, Any]]:
    """The kustomization's resources, in its order, with its labels: what `kubectl
    kustomize` outputs for these plain manifests (no patches or generators)."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    labels: dict[str, str] = {}
    for entry in kustomization.get("labels", []):
        labels.update(entry["pairs"])
    documents = []
    for resource in kustomization["resources"]:
        for document in yaml.safe_load_all((folder / resource).read_text(encoding="utf-8")):
            if document:
                metadata = document.setdefault("metadata", {})
                metadata["labels"] = {**metadata.get("labels", {}), **labels}
                documents.append(document)
    return documents


@dataclass(frozen=True)
class DocumentedSecret:
    name: str
    keys: frozenset[str]


def documented_secret(readme: str) -> DocumentedSecret:
    """The Secret the README's `kubectl create secret generic` command makes."""
    commands = [
        " ".join(line.rstrip("\\").strip() for line in block.splitlines())
        for block in re.findall(r"kubectl create secret generic(?:[^\n]*\\\n)*[^\n]*", readme)
    ]
    assert len(commands) == 1, f"expected one `kubectl create secret` in the README: {commands}"
    words = shlex.split(commands[0], comments=True)
    name = words[4]  # kubectl create secret generic NAME
    keys = set()
    for word in words[5:]:
        option, _, value = word.partition("=")
        if option == "--from-literal":
            keys.add(value.split("=", 1)[0])
        elif option == "--from-file":
            # --from-file=key=path, or --from-file=path (the key is the file's name)
            keys.add(value.split("=", 1)[0] if "=" in value else Path(value).name)
        else:
            assert not option.startswith("--from"), f"unread option {option!r}"
    return DocumentedSecret(name, frozenset(keys))


@dataclass(frozen=True)
class Reference:
    where: str
    secret: str
    key: str


def secret_references(documents: list[dict[str, Any]]) -> Iterator[Reference]:
    """Every key of every Secret a pod template reads: env `secretKeyRef`s and secret
    volumes' items."""
    for document in documents:
        spec = document.get("spec", {}).get("template", {}).get("spec")
        if spec is None:
            continue
        where = f"{document['kind']}/{document['metadata']['name']}"
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            for entry in container.get("env", []):
                reference = entry.get("valueFrom", {}).get("secretKeyRef")
                if reference is not None:
                    yield Reference(where, reference["name"], reference["key"])
        for volume in spec.get("volumes", []):
            secret = volume.get("secret")
            if secret is not None:
                for item in secret.get("items", []):
                    yield Reference(where, secret["secretName"], item["key"])


def test_every_secret_key_the_manifests_read_is_in_the_readmes_command() -> None:
    secret = documented_secret(README.read_text(encoding="utf-8"))
    references = list(secret_references(rendered()))
    assert references, "the manifests read no secret: the check would prove nothing"
    for reference in references:
        assert reference.secret == secret.name, reference
    missing = {r.key for r in references} - secret.keys
    assert not missing, f"the README's kubectl create secret leaves out {sorted(missing)}"
    unused = secret.keys - {r.key for r in references}
    assert not unused, f"the README's secret has keys nothing reads: {sorted(unused)}"


def test_secret_yaml_holds_the_same_keys_as_the_readmes_command() -> None:
    secret = documented_secret(README.read_text(encoding="utf-8"))
    (manifest,) = [d for d in rendered() if d["kind"] == "Secret"]
    assert manifest["metadata"]["name"] == secret.name
    assert set(manifest["stringData"]) == secret.keys


def test_a_key_left_out_of_the_command_is_caught() -> None:
    readme = README.read_text(encoding="utf-8")
    # The option's own line, as the README writes it, continuation and all.
    line = r"[ \t]*--from-literal=STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS=(\"[^\"]*\"|\S+) \\\n"
    left_out = re.sub(line, "", readme)
    assert left_out != readme
    secret = documented_secret(left_out)
    keys = {r.key for r in secret_references(rendered())}
    assert keys - secret.keys == {"STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS"}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_rendering_is_what_kubectl_kustomize_builds() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(KUSTOMIZATION)],
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    ).stdout
    theirs = [d for d in yaml.safe_load_all(built) if d]

    def identity(document: dict[str, Any]) -> tuple[str, str]:
        return document["kind"], document["metadata"]["name"]

    assert sorted(map(identity, theirs)) == sorted(map(identity, rendered()))
    assert sorted(secret_references(theirs), key=repr) == sorted(
        secret_references(rendered()), key=repr
    )
