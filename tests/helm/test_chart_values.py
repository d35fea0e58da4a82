"""values.schema.json rejects bad values by name; generated chart files stay in step with their sources."""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

import pytest
from helm_chart import CHART, helm, load_script, render_files

from monitor.settings import Settings

SCHEMA = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
# Keys the chart sets itself from other values, so `config` may not set them.
# `mode` follows the subcommand (`serve` or `tap`); a secret (a Kafka password, the judge's key)
# never sits in the ConfigMap.
CHART_OWNED = {"host", "port", "admin_host", "admin_port", "upstream.url", "detection.checkpoint_path"}
CHART_OWNED |= {"mode", "kafka.sasl_password", "scoring.judge.api_key"}


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"replicas": 2}, "'replicas' not allowed"),
        ({"replicaCount": "two"}, "/replicaCount"),
        ({"mode": "sideways"}, "/mode"),
        ({"ports": {"admin": 70000}}, "/ports/admin"),
        ({"securityContext": "root"}, "/securityContext"),
        ({"image": {"tag": 1}}, "/image/tag"),
        ({"config": {"sampling": {"rat": 0.5}}}, "'rat' not allowed"),
        ({"config": {"sampling": {"rate": 2}}}, "/config/sampling/rate"),
        ({"config": {"detection": {"method": "magic"}}}, "/config/detection/method"),
        ({"config": {"port": 9000}}, "'port' not allowed"),
        ({"mode": "standalone"}, "/upstream/url"),
        ({"mode": "tap"}, "/tap/brokers"),
        ({"serviceMonitor": {"enabled": "yes"}}, "/serviceMonitor/enabled"),
    ],
    ids=lambda case: json.dumps(case) if isinstance(case, dict) else None,
)
def test_schema_rejects_bad_values_naming_the_key(values, named):
    """An unknown key, a wrong type or a missing required value fails with a message naming it."""
    h = helm()
    with h.Chart.load(CHART) as chart, pytest.raises(h.HelmValuesError, match=named):
        chart.validate_schema(values)
    with pytest.raises(h.HelmError, match=named):  # as `helm install` would
        render_files(values)


def _objects_without_closed_keys(node: Any, where: str = "") -> list[str]:
    if not isinstance(node, dict):
        return []
    found = [where or "/"] if "properties" in node and node.get("additionalProperties") is not False else []
    for key, child in node.get("properties", {}).items():
        found += _objects_without_closed_keys(child, f"{where}/{key}")
    return found


def test_every_schema_object_rejects_unknown_keys():
    """Each object the schema spells out sets additionalProperties: false."""
    assert _objects_without_closed_keys(SCHEMA) == []


def _settings_keys(cls: type[Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[field.name]):
            keys |= _settings_keys(hints[field.name], f"{prefix}{field.name}.")
        else:
            keys.add(prefix + field.name)
    return keys


def _schema_keys(node: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, child in node["properties"].items():
        if "properties" in child:
            keys |= _schema_keys(child, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_config_schema_covers_every_setting():
    """`config` accepts exactly the monitor's settings (monitor/settings.py), less the chart-owned keys."""
    assert _schema_keys(SCHEMA["properties"]["config"]) == _settings_keys(Settings) - CHART_OWNED


def test_chart_files_equal_the_generated_rules_and_dashboards():
    """files/ holds byte-for-byte copies of dashboards/out (run python helm/copy_generated.py)."""
    assert load_script("copy_generated").stale() == []


def test_values_table_is_in_step_with_values_yaml():
    """The chart README's table is what helm/gen_values_table.py makes of values.yaml."""
    script = load_script("gen_values_table")
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    assert script.render_readme(readme, (CHART / "values.yaml").read_text(encoding="utf-8")) == readme


def test_an_undocumented_key_is_refused():
    """A values.yaml key without a `# --` comment (own, parent's or child's) stops the table."""
    script = load_script("gen_values_table")
    with pytest.raises(script.UndocumentedKeyError, match=r"image\.digest"):
        script.table("image:\n  # -- Repository.\n  repository: x\n  digest: ''\n")


def test_a_documented_parent_covers_its_children():
    """Children of a documented key without comments of their own are part of its default."""
    table = load_script("gen_values_table").table("# -- Resources.\nresources:\n  limits:\n    cpu: 1\n")
    assert '| `resources` | object | `{"limits": {"cpu": 1}}` | Resources. |' in table
