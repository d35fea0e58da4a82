"""Render the chart with real Helm (the Go SDK inside helm-python-sdk) and pick the rendered objects apart."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from components import require

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "llm-safety-monitor"
KUBE_VERSION = "1.30.0"
SCENARIOS = sorted(path.name.removesuffix("-values.yaml") for path in (CHART / "ci").glob("*-values.yaml"))
# The least each mode needs; the scenarios in ci/ are the representative ones.
MODES: dict[str, dict[str, Any]] = {
    "sidecar": {},
    "standalone": {"mode": "standalone", "upstream": {"url": "http://vllm.models.svc:8000"}},
    "tap": {"mode": "tap", "tap": {"brokers": ["kafka-0.kafka:9092"]}},
}


def _module(name: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except (ImportError, OSError) as exc:  # OSError: the bundled libhelm_c does not load
        require(package, False, f"pip install {package} ({exc})")
        raise


def helm() -> ModuleType:
    """The ``helm_python`` module, or fail (CI) / skip."""
    return _module("helm_python", "helm-python-sdk")


def kubernetes_validate() -> ModuleType:
    """The ``kubernetes_validate`` module, or fail (CI) / skip."""
    return _module("kubernetes_validate", "kubernetes-validate")


def scenario(name: str) -> dict[str, Any]:
    """The values of ``ci/<name>-values.yaml``."""
    return yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text(encoding="utf-8"))


def render_files(values: dict[str, Any] | None = None, chart_path: Path = CHART) -> dict[str, str]:
    """Template path → rendered text, as ``helm template demo --namespace ml`` gives."""
    with helm().Chart.load(chart_path) as chart:
        return chart.render(values or {}, name="demo", namespace="ml", is_install=True)


@functools.cache
def _render_cached(values_json: str) -> tuple[dict[str, Any], ...]:
    docs: list[dict[str, Any]] = []
    for path, text in sorted(render_files(json.loads(values_json)).items()):
        if path.endswith(".yaml"):
            docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return tuple(docs)


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every rendered object (rendering is cached per values; callers get fresh copies)."""
    return json.loads(json.dumps(_render_cached(json.dumps(values or {}, sort_keys=True))))


def objects(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, suffix: str = "") -> dict[str, Any]:
    """The single object of ``kind`` whose name ends with ``suffix``."""
    found = [doc for doc in objects(docs, kind) if doc["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, f"expected one {kind}*{suffix}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment")["spec"]["template"]["spec"]


def monitor_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = [c for c in pod_spec(docs)["containers"] if c["name"] == "monitor"]
    return container


def settings_file(docs: list[dict[str, Any]]) -> str:
    """The ``config.yaml`` the monitor reads, from the chart's own ConfigMap."""
    return one(docs, "ConfigMap", "-monitor")["data"]["config.yaml"]


def load_script(name: str) -> ModuleType:
    """A script from ``helm/`` (not a package), imported by path."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "helm" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
