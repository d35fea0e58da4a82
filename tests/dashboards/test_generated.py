"""Generated dashboards, rules and catalogue: up to date, valid, and consistent with the code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from components import require_binary
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from dashboards.build import OUT, main
from dashboards.grafana import dashboards
from dashboards.rules import alerts, rule_tests
from monitor.detection import DetectorBank
from monitor.events import Choice, Sample, Scores
from monitor.export.metrics import CATALOGUE, DetectorCollector, Metrics
from monitor.settings import DetectionSettings

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\b(llm_safety_[a-z_]+?)(?:_bucket|_total|_count|_sum)?\b(?=[{\[(\s)]|$)")
EXPOSED = {spec.name for spec in CATALOGUE} | {spec.exposed for spec in CATALOGUE}


def test_generated_files_are_up_to_date():
    """Regenerating dashboards, rules, tests and the catalogue changes nothing that is committed."""
    assert main(["--check"]) == 0


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_dashboard_is_valid_grafana_json(name):
    """Unique panel ids, a templated datasource everywhere, stable uid, only catalogued metrics."""
    board = dashboards()[name]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert board["uid"].startswith("llm-safety-")
    assert board["templating"]["list"][0]["type"] == "datasource"
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            names = set(METRIC.findall(target["expr"]))
            assert names, target["expr"]
            assert names <= EXPOSED, names - EXPOSED
            if "rate(" in target["expr"]:
                assert "$__rate_interval" in target["expr"]


def test_every_alert_has_a_runbook():
    """Each alert's runbook_url names a page under docs/runbooks/."""
    for alert in alerts():
        assert (ROOT / "docs" / "runbooks" / f"{alert.name}.md").is_file(), alert.name


def test_every_alert_has_a_named_promtool_case():
    """Each alert has a case "X fires when Y" with silence before `for` and firing after."""
    cases = {case["name"].split(" fires when ")[0]: case for case in rule_tests()["tests"]}
    assert set(cases) == {a.name for a in alerts()}
    for case in cases.values():
        silent, firing = case["alert_rule_test"]
        assert silent["exp_alerts"] == []
        assert firing["exp_alerts"]


def test_promtool_checks_and_tests_rules():
    """Promtool accepts the rules and every alert test passes."""
    promtool = require_binary("promtool", "apt-get install prometheus")
    check = subprocess.run(
        [promtool, "check", "rules", str(OUT / "rules.yaml")], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run(
        [promtool, "test", "rules", "rules_test.yaml"], cwd=OUT, capture_output=True, text=True, check=False
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_catalogue_matches_what_is_exported():
    """Every exported family is in the catalogue with the same type and labels, and vice versa."""
    registry = CollectorRegistry()
    Metrics(registry, ["m"]).kafka_lag.labels("t", "0").set(0)  # lag series exist once assigned
    bank = DetectorBank(DetectionSettings(warmup=1))
    scores = Scores(
        0, 0.1, 0.0, 0, "privacy", 0.9, 0.9, False, (), False, (("privacy", 0.9), ("benign", 0.1))
    )
    bank.observe(
        Sample("r", "chat_completions", "m", "p", (Choice(0, "x"),), 200, False, 0, 0, scores=scores)
    )
    registry.register(DetectorCollector(bank))
    from prometheus_client import generate_latest  # noqa: PLC0415

    exported = text_string_to_metric_families(generate_latest(registry).decode())
    families = {f.name: f for f in exported if not f.name.endswith("_created")}  # off in the service
    specs = {spec.name: spec for spec in CATALOGUE}
    assert set(families) == set(specs)
    for name, family in families.items():
        assert family.type == specs[name].kind, name
        labels = {k for sample in family.samples for k in sample.labels} - {"le"}
        assert labels == set(specs[name].labels), name
