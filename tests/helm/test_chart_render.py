"""The chart, linted and rendered by real Helm in every mode and scenario, and validated."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml
from crd_schemas import SCHEMAS
from helm_chart import (
    CHART,
    KUBE_VERSION,
    MODES,
    ROOT,
    SCENARIOS,
    helm,
    kubernetes_validate,
    monitor_container,
    objects,
    one,
    pod_spec,
    render,
    render_files,
    scenario,
)

CASES = {f"mode-{mode}": values for mode, values in MODES.items()} | {
    f"ci-{name}": scenario(name) for name in SCENARIOS
}
PARAMS = pytest.mark.parametrize("values", list(CASES.values()), ids=list(CASES))


def test_every_mode_has_a_ci_scenario():
    """ci/ holds one representative values file per mode."""
    assert set(MODES) <= set(SCENARIOS)


@PARAMS
def test_helm_lint_finds_no_warning(values):
    """`helm lint --strict` reports nothing above info (the icon suggestion)."""
    report = helm().lint(CHART, values, strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@PARAMS
def test_every_builtin_object_is_valid_kubernetes(values):
    """Every rendered built-in object passes the strict Kubernetes schema of its kind."""
    validator = kubernetes_validate()
    for doc in render(values):
        if doc["kind"] not in SCHEMAS:
            validator.validate(doc, KUBE_VERSION, strict=True)


def test_the_kubernetes_validator_rejects_an_unknown_field():
    """The validation above has teeth: a misspelt field fails it."""
    deployment = one(render(), "Deployment")
    deployment["spec"]["template"]["spec"]["enableServiceLink"] = False
    with pytest.raises(kubernetes_validate().ValidationError):
        kubernetes_validate().validate(deployment, KUBE_VERSION, strict=True)


@PARAMS
def test_operator_objects_match_their_crd_fields(values):
    """ServiceMonitor and PrometheusRule pass the CRD-field schemas in crd_schemas.py."""
    for doc in render(values):
        if doc["kind"] in SCHEMAS:
            jsonschema.validate(doc, SCHEMAS[doc["kind"]])


@PARAMS
def test_every_object_carries_the_standard_labels(values):
    """app.kubernetes.io/* and helm.sh/chart on every object, and in the pod template."""
    wanted = {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
              "app.kubernetes.io/managed-by", "helm.sh/chart"}  # fmt: skip
    docs = render(values)
    for doc in docs:
        assert wanted <= set(doc["metadata"]["labels"]), doc["metadata"]["name"]
    assert wanted <= set(one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"])


@PARAMS
def test_the_monitor_runs_locked_down(values):
    """Non-root, read-only root, no escalation, no capabilities, seccomp RuntimeDefault, resources set."""
    docs = render(values)
    pod = pod_spec(docs)
    monitor = monitor_container(docs)
    context = monitor["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] > 0
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert set(monitor["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(monitor["resources"]["limits"])


@PARAMS
def test_no_service_account_token_and_no_service_links(values):
    """The pod mounts no API token and gets no Service environment variables."""
    docs = render(values)
    pod = pod_spec(docs)
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    for account in objects(docs, "ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


@PARAMS
def test_probes_are_on_the_admin_port(values):
    """Liveness is /healthz and readiness /readyz, both on the admin port."""
    monitor = monitor_container(render(values))
    ports = {port["name"]: port["containerPort"] for port in monitor["ports"]}
    assert monitor["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert monitor["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert "admin" in ports


def test_sidecar_model_server_drops_privileges_by_default():
    """The user's model server gets no escalation and no capabilities unless the values say so."""
    (server,) = [c for c in pod_spec(render())["containers"] if c["name"] == "model-server"]
    assert server["securityContext"]["allowPrivilegeEscalation"] is False
    assert server["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_sidecar_service_points_at_the_proxy_not_the_model():
    """In sidecar mode client traffic goes to the monitor, which forwards to the model on loopback."""
    docs = render(scenario("sidecar"))
    (http,) = [port for port in one(docs, "Service")["spec"]["ports"] if port["name"] == "http"]
    assert http["targetPort"] == "proxy"
    config = yaml.safe_load(one(docs, "ConfigMap", "-monitor")["data"]["config.yaml"])
    assert config["upstream"]["url"] == "http://127.0.0.1:8000"
    ingress = one(docs, "NetworkPolicy")["spec"]["ingress"]
    assert sorted(port["port"] for rule in ingress for port in rule["ports"]) == ["admin", "proxy"]


def test_standalone_forwards_to_the_model_service():
    """In standalone mode the monitor proxies to upstream.url, and the pod holds only the monitor."""
    docs = render(scenario("standalone"))
    config = yaml.safe_load(one(docs, "ConfigMap", "-monitor")["data"]["config.yaml"])
    assert config["upstream"]["url"] == "http://vllm.models.svc.cluster.local:8000"
    assert [c["name"] for c in pod_spec(docs)["containers"]] == ["monitor"]


def test_tap_mode_renders_the_tap_command():
    """Tap mode runs `safety-monitor tap` with the Kafka flags and exposes only the admin port."""
    docs = render(scenario("tap"))
    monitor = monitor_container(docs)
    assert monitor["command"] == ["safety-monitor"]
    assert monitor["args"][:3] == ["tap", "--config", "/etc/safety-monitor/config.yaml"]
    brokers = "kafka-0.kafka.data.svc:9092,kafka-1.kafka.data.svc:9092"
    flags = ["--bootstrap", brokers, "--topic", "vllm-inference-logs", "--group", "llm-safety-monitor"]
    assert monitor["args"][3:] == flags
    assert [port["name"] for port in one(docs, "Service")["spec"]["ports"]] == ["admin"]
    assert monitor["envFrom"] == [{"secretRef": {"name": "llm-safety-monitor-kafka"}}]


@pytest.mark.parametrize(
    ("mode", "autoscaled"), [("sidecar", False), ("standalone", True), ("tap", True)], ids=str
)
def test_autoscaler_only_outside_sidecar_mode(mode, autoscaled):
    """An HPA in standalone and tap modes; the Deployment then leaves replicas to it."""
    values = MODES[mode] | {"autoscaling": {"enabled": autoscaled}}
    docs = render(values)
    assert len(objects(docs, "HorizontalPodAutoscaler")) == int(autoscaled)
    assert ("replicas" in one(docs, "Deployment")["spec"]) is not autoscaled


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"autoscaling": {"enabled": True}}, "autoscaling.enabled"),
        ({"persistence": {"enabled": True}, "replicaCount": 2}, "persistence.enabled"),
    ],
    ids=["hpa-in-sidecar-mode", "one-volume-many-replicas"],
)
def test_impossible_combinations_fail_naming_the_key(values, key):
    """What the schema cannot express, the templates refuse with a message naming the key."""
    with pytest.raises(helm().HelmError, match=key):
        render_files(values)


def test_checkpoints_on_a_claim_or_an_empty_dir():
    """persistence.enabled mounts a PVC (Recreate strategy); otherwise an emptyDir holds checkpoints."""
    claimed = render(scenario("sidecar"))
    (state,) = [v for v in pod_spec(claimed)["volumes"] if v["name"] == "state"]
    claim = one(claimed, "PersistentVolumeClaim")
    assert state["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert one(claimed, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}
    (state,) = [v for v in pod_spec(render())["volumes"] if v["name"] == "state"]
    assert state == {"name": "state", "emptyDir": {}}


def _rule_groups() -> list[dict[str, Any]]:
    return yaml.safe_load((ROOT / "dashboards" / "out" / "rules.yaml").read_text(encoding="utf-8"))["groups"]


def test_prometheus_rule_groups_equal_the_generated_rules():
    """The PrometheusRule holds exactly the groups of dashboards/out/rules.yaml."""
    rule = one(render(scenario("standalone")), "PrometheusRule")
    assert rule["spec"] == {"groups": _rule_groups()}


def test_dashboards_configmap_equals_the_generated_dashboards():
    """The dashboards ConfigMap holds each dashboards/out/*.json, byte for byte, labelled for Grafana."""
    docs = render(scenario("sidecar"))
    configmap = one(docs, "ConfigMap", "-dashboards")
    generated = (ROOT / "dashboards" / "out").glob("*.json")
    boards = {path.name: path.read_text(encoding="utf-8") for path in generated}
    assert boards
    assert configmap["data"] == boards
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_service_monitor_scrapes_the_admin_port_as_the_rules_job():
    """The ServiceMonitor scrapes /metrics on the admin port and sets the job the rules select."""
    monitor = one(render(scenario("standalone")), "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("admin", "/metrics")
    (relabel,) = endpoint["relabelings"]
    assert (relabel["targetLabel"], relabel["replacement"]) == ("job", "llm-safety-monitor")
    assert all('job="llm-safety-monitor"' in rule["expr"] for g in _rule_groups() for rule in g["rules"]
               if "llm_safety_" in rule["expr"])  # fmt: skip


def test_optional_objects_are_off_by_default():
    """With default values: no ServiceMonitor, PrometheusRule, dashboards, HPA, NetworkPolicy or PVC."""
    kinds = {doc["kind"] for doc in render()}
    assert kinds == {"ConfigMap", "Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"}


def test_packaged_chart_carries_the_generated_files(tmp_path):
    """`helm package` output (files/ are copies, not links) still renders the rules and dashboards."""
    h = helm()
    with h.Chart.load(CHART) as chart:
        archive = chart.save(tmp_path)
    with h.Chart.load(archive) as packaged:
        rendered = packaged.render(scenario("sidecar"), name="demo", namespace="ml", is_install=True)
    texts = [text for path, text in rendered.items() if path.endswith(".yaml")]
    docs = [doc for text in texts for doc in yaml.safe_load_all(text) if doc]
    assert one(docs, "PrometheusRule")["spec"]["groups"] == _rule_groups()
    assert len(one(docs, "ConfigMap", "-dashboards")["data"]) == 2


def test_notes_say_where_metrics_status_and_alerts_are():
    """NOTES.txt names the client URL, the status page, /metrics and how alerts are delivered."""
    notes = render_files(scenario("sidecar"))["llm-safety-monitor/templates/NOTES.txt"]
    assert "http://demo-llm-safety-monitor.ml.svc:8080" in notes
    assert "status page  http://demo-llm-safety-monitor.ml.svc:9464/" in notes
    assert "/metrics" in notes
    assert "PrometheusRule demo-llm-safety-monitor" in notes
