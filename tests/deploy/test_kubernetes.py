"""The Kubernetes manifests: valid against the Kubernetes schemas, and in step with the code.

Validation is strict (an unknown or misspelt field fails), against the
schemas of the `kubernetes-validate` package for the Kubernetes versions
named below. The rest checks what a schema cannot: that probes hit routes the
app serves, ports and settings are ones the gateway reads, selectors select,
and the grace period covers the shutdown the settings ask for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from starlette.routing import Route

from gateway.admin import probe_routes
from gateway.app import create_app
from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
#: The oldest and the newest Kubernetes minor versions the manifests must suit.
VERSIONS = ("1.29.0", "1.37.0")


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                found.append((path.name, document))
    return found


def one(kind: str, name: str) -> dict[str, Any]:
    matches = [d for _, d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}"
    return matches[0]


def gateway_container() -> dict[str, Any]:
    containers = one("Deployment", "studio-gateway")["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "gateway")


def config() -> dict[str, str]:
    return dict(one("ConfigMap", "studio-gateway")["data"])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "document", documents(), ids=lambda d: f"{d[0]}:{d[1]['kind']}/{d[1]['metadata']['name']}"
)
def test_every_manifest_is_valid_in_strict_mode(
    document: tuple[str, dict[str, Any]], version: str
) -> None:
    kubernetes_validate.validate(document[1], version, strict=True)


def test_a_misspelt_field_is_caught() -> None:
    # The check above can fail: strict mode refuses a field Kubernetes does not have.
    deployment = one("Deployment", "studio-gateway")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text(encoding="utf-8"))
    files = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_probes_hit_the_admin_port_and_the_routes_it_serves() -> None:
    paths = {route.path for route in probe_routes()}
    container = gateway_container()
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] in paths
        # Out of clients' load: a flood on the public port never fails a probe.
        assert container[probe]["httpGet"]["port"] == "admin"


def test_the_ports_are_the_ones_the_gateway_listens_on() -> None:
    ports = {p["name"]: p["containerPort"] for p in gateway_container()["ports"]}
    assert ports["http"] == int(config()["STUDIO_GATEWAY_PORT"])
    assert ports["admin"] == int(config()["STUDIO_GATEWAY_ADMIN_PORT"])
    # Clients reach the public port alone: /metrics is not served there.
    service = one("Service", "studio-gateway")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    app = create_app(
        Settings(
            twilio_account_sid="AC" + "0" * 32,
            twilio_auth_token="x",
            admin_port=int(config()["STUDIO_GATEWAY_ADMIN_PORT"]),
        )
    )
    public = {route.path for route in app.routes if isinstance(route, Route)}
    assert "/metrics" not in public and "/healthz" in public
    annotations = one("Deployment", "studio-gateway")["spec"]["template"]["metadata"]
    assert annotations["annotations"]["prometheus.io/port"] == str(ports["admin"])


def test_the_network_policy_opens_the_admin_port_to_monitoring_alone() -> None:
    ingress = one("NetworkPolicy", "studio-gateway")["spec"]["ingress"]
    public = [rule for rule in ingress if {p["port"] for p in rule["ports"]} == {"http"}]
    admin = [rule for rule in ingress if {p["port"] for p in rule["ports"]} == {"admin"}]
    assert len(public) == 1 and "from" not in public[0]
    # The kubelet's probes come from the pod's node, which a policy always lets in.
    assert len(admin) == 1 and admin[0]["from"]


def test_every_setting_named_is_one_the_gateway_reads() -> None:
    known = {f"STUDIO_GATEWAY_{name.upper()}" for name in Settings.model_fields} | {
        f"TWILIO_{name.upper()}"
        for name in ("account_sid", "auth_token", "api_key", "api_secret", "region", "edge")
    }
    container = gateway_container()
    named = set(config()) | {e["name"] for e in container.get("env", [])}
    assert named <= known, sorted(named - known)
    # And they parse: the gateway would start with this configuration.
    values = {k.removeprefix("STUDIO_GATEWAY_").lower(): v for k, v in config().items()}
    Settings(**values, twilio_account_sid="AC" + "0" * 32, twilio_auth_token="x")


def test_the_secret_feeds_what_the_deployment_reads() -> None:
    secret = one("Secret", "studio-gateway")
    keys = set(secret["stringData"])
    container = gateway_container()
    for entry in container["env"]:
        reference = entry["valueFrom"]["secretKeyRef"]
        assert reference["name"] == "studio-gateway" and reference["key"] in keys
    volumes = one("Deployment", "studio-gateway")["spec"]["template"]["spec"]["volumes"]
    api_keys = next(v for v in volumes if v["name"] == "api-keys")
    mount = next(m for m in container["volumeMounts"] if m["name"] == "api-keys")
    path = f"{mount['mountPath']}/{api_keys['secret']['items'][0]['path']}"
    assert path == config()["STUDIO_GATEWAY_API_KEYS_FILE"]


def test_the_grace_period_covers_the_pause_the_drain_and_the_shutdown() -> None:
    spec = one("Deployment", "studio-gateway")["spec"]["template"]["spec"]
    pre_stop = gateway_container()["lifecycle"]["preStop"]["exec"]["command"]
    pause = float(pre_stop[-1].rsplit("sleep(", 1)[1].rstrip(")"))
    drain = float(config()["STUDIO_GATEWAY_DRAIN_SECONDS"])
    grace = float(config()["STUDIO_GATEWAY_SHUTDOWN_GRACE"])
    assert spec["terminationGracePeriodSeconds"] >= pause + drain + grace + 5


def test_the_gateway_runs_locked_down() -> None:
    pod = one("Deployment", "studio-gateway")["spec"]["template"]["spec"]
    container = gateway_container()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"requests", "limits"} <= set(container["resources"])
    # A read-only root needs somewhere to write temporary files.
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])


def test_selectors_select_the_pods_they_mean() -> None:
    deployment = one("Deployment", "studio-gateway")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    selectors = {
        "Service": one("Service", "studio-gateway")["spec"]["selector"],
        "PodDisruptionBudget": one("PodDisruptionBudget", "studio-gateway")["spec"]["selector"][
            "matchLabels"
        ],
        "NetworkPolicy": one("NetworkPolicy", "studio-gateway")["spec"]["podSelector"][
            "matchLabels"
        ],
    }
    for kind, wanted in selectors.items():
        assert wanted.items() <= labels.items(), kind
    hpa = one("HorizontalPodAutoscaler", "studio-gateway")["spec"]["scaleTargetRef"]
    assert (hpa["kind"], hpa["name"]) == ("Deployment", "studio-gateway")
    redis_url = config()["STUDIO_GATEWAY_REDIS_URL"]
    redis = one("Service", "studio-gateway-redis")
    assert f"//{redis['metadata']['name']}:{redis['spec']['ports'][0]['port']}/" in redis_url
