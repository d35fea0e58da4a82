"""JSON schemas for the Prometheus Operator objects the chart renders (monitoring.coreos.com/v1).

No PyPI package ships the operator's CRD schemas offline (kubernetes-validate covers built-in kinds
only), so these are minimal schemas of exactly the fields the chart uses, with the CRDs' types,
required fields and duration pattern. They are stricter than the CRDs in one way: unknown fields
are errors here, where the API server would silently prune them.
"""

from __future__ import annotations

from typing import Any

DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"}


def _strict(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": list(required),
    }


def _resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    metadata = {
        "type": "object",
        "properties": {"name": NAME, "namespace": NAME, "labels": STRING_MAP, "annotations": STRING_MAP},
        "required": ["name"],
    }
    return _strict(
        {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": kind},
            "metadata": metadata,
            "spec": spec,
        },
        ("apiVersion", "kind", "metadata", "spec"),
    )


LABEL_SELECTOR = _strict({"matchLabels": STRING_MAP, "matchExpressions": {"type": "array"}})
RELABEL = _strict(
    {
        "action": {
            "enum": [
                "replace",
                "Replace",
                "keep",
                "Keep",
                "drop",
                "Drop",
                "labelmap",
                "LabelMap",
                "labeldrop",
                "LabelDrop",
                "labelkeep",
                "LabelKeep",
                "hashmod",
                "HashMod",
            ]
        },
        "sourceLabels": {"type": "array", "items": {"type": "string"}},
        "separator": {"type": "string"},
        "targetLabel": {"type": "string"},
        "regex": {"type": "string"},
        "replacement": {"type": "string"},
        "modulus": {"type": "integer"},
    }
)
ENDPOINT = _strict(
    {
        "port": {"type": "string"},
        "path": {"type": "string"},
        "scheme": {"enum": ["http", "https"]},
        "interval": DURATION,
        "scrapeTimeout": DURATION,
        "honorLabels": {"type": "boolean"},
        "relabelings": {"type": "array", "items": RELABEL},
        "metricRelabelings": {"type": "array", "items": RELABEL},
    }
)
SERVICE_MONITOR = _resource(
    "ServiceMonitor",
    _strict(
        {
            "selector": LABEL_SELECTOR,
            "namespaceSelector": _strict(
                {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": NAME}}
            ),
            "jobLabel": {"type": "string"},
            "endpoints": {"type": "array", "items": ENDPOINT, "minItems": 1},
        },
        ("selector",),
    ),
)

RULE = {
    **_strict(
        {
            "record": {"type": "string", "minLength": 1},
            "alert": {"type": "string", "minLength": 1},
            "expr": {"type": ["string", "integer"]},
            "for": DURATION,
            "keep_firing_for": DURATION,
            "labels": STRING_MAP,
            "annotations": STRING_MAP,
        },
        ("expr",),
    ),
    "oneOf": [{"required": ["record"]}, {"required": ["alert"]}],
}
RULE_GROUP = _strict(
    {
        "name": {"type": "string", "minLength": 1},
        "interval": DURATION,
        "query_offset": DURATION,
        "limit": {"type": "integer"},
        "labels": STRING_MAP,
        "rules": {"type": "array", "items": RULE},
    },
    ("name",),
)
PROMETHEUS_RULE = _resource("PrometheusRule", _strict({"groups": {"type": "array", "items": RULE_GROUP}}))

SCHEMAS = {"ServiceMonitor": SERVICE_MONITOR, "PrometheusRule": PROMETHEUS_RULE}
