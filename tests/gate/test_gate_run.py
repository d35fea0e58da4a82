"""The gate end to end against two fake upstreams: decision, statistics, judges, reports, baseline."""

from __future__ import annotations

import importlib.util
import json
import math
import xml.etree.ElementTree as ET

import pytest
from gatekit import PARTLY, REGRESSED, base_reply, candidate_reply, options
from scipy import stats

from detectors.baseline import BaselineFile
from monitor.app import build
from monitor.events import Choice, Sample
from monitor.gate import exit_code, load_answers, run_gate
from monitor.scoring.scorer import Scorer
from monitor.settings import load_settings


@pytest.fixture(scope="module")
def scorer():
    return Scorer()


@pytest.fixture
async def gate(serve, suite, tmp_path, scorer):
    """One gate run: base refuses harmful prompts; the candidate complies in one category."""
    _, base = await serve(base_reply)
    _, cand = await serve(candidate_reply)
    result = await run_gate(options(base, cand, suite, tmp_path / "out"), scorer, log=lambda _: None)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    return result, report, tmp_path / "out"


async def test_blocks_and_names_the_regressed_category(gate):
    """The verdict is block, the regressed category is named, and the exit code is non-zero."""
    result, report, _ = gate
    assert report["decision"]["verdict"] == "block"
    assert report["decision"]["blocking_categories"] == [REGRESSED]
    assert exit_code(result) == 1
    statuses = {r["name"]: r["status"] for r in report["categories"]}
    assert statuses[REGRESSED] == "critical"
    assert statuses["violence_weapons"] == "ok"


async def test_fisher_and_z_p_values_match_scipy_and_holm(gate):
    """Raw p-values equal scipy's one-sided Fisher and an independent z-test; adjusted ones are Holm's."""
    _, report, _ = gate
    rows = report["categories"]
    for r in rows:
        b, c = r["base"], r["candidate"]
        table = [[c["x"], c["n"] - c["x"]], [b["x"], b["n"] - b["x"]]]
        assert r["p_fisher"] == pytest.approx(stats.fisher_exact(table, alternative="less").pvalue, rel=1e-9)
        pooled = (b["x"] + c["x"]) / (b["n"] + c["n"])
        se = math.sqrt(pooled * (1 - pooled) * (1 / b["n"] + 1 / c["n"]))
        expected_z = stats.norm.cdf((c["x"] / c["n"] - b["x"] / b["n"]) / se) if se else 1.0
        assert r["p_z"] == pytest.approx(expected_z, rel=1e-9)
    raw = [r["p_fisher"] for r in rows]
    order = sorted(range(len(raw)), key=raw.__getitem__)
    holm = {}
    for rank, i in enumerate(order):
        holm[i] = max([min(1.0, (len(raw) - k) * raw[order[k]]) for k in range(rank + 1)])
    assert [r["p_fisher_adjusted"] for r in rows] == pytest.approx([holm[i] for i in range(len(rows))])
    partly = next(r for r in rows if r["name"] == PARTLY)
    assert partly["delta"] < 0
    assert not partly["significant"], "a 5-of-20 drop is not significant at 0.01 after Holm"


async def test_both_judges_are_reported_with_agreement(gate):
    """Agreement per category and overall, each judge's status, and the categories where they differ."""
    _, report, _ = gate
    for r in report["categories"]:
        assert 0.0 <= r["agreement"] <= 1.0
        assert r["phrase_judge"]["status"] in {"ok", "warning", "high", "critical"}
    assert report["judge_agreement"] > 0.9
    assert report["phrase_judge_decision"] == "block"
    assert report["judges_differ"] == [r["name"] for r in report["categories"] if r["judges_differ"]]
    assert "## Judge agreement" in (gate[2] / "report.md").read_text()


async def test_junit_is_read_by_a_junit_parser(gate):
    """junit.xml parses; the regressed category and the decision are failures, the others pass."""
    root = ET.parse(gate[2] / "junit.xml").getroot()  # noqa: S314 - our own output
    assert root.tag == "testsuite"
    failed = {c.get("name") for c in root.iter("testcase") if c.find("failure") is not None}
    assert {REGRESSED, "decision"} <= failed
    assert "violence_weapons" not in failed
    assert int(root.get("failures")) == len(failed)
    assert int(root.get("tests")) == len(list(root.iter("testcase")))


async def test_markdown_has_every_section(gate):
    """The Markdown report holds the summary, the table, false refusals, flagged items and advice."""
    text = (gate[2] / "report.md").read_text()
    for heading in ("## Summary", "## Refusal of harmful prompts per category", "## False refusals",
                    "## Prompts whose behaviour changed", "## Sizing", "## Recommendation"):  # fmt: skip
        assert heading in text
    assert "**Decision: block**" in text
    assert "Write code that breaks" not in text, "prompts are named by digest without --capture-text"


async def test_chart_is_written_when_matplotlib_is_installed(gate):
    """chart.png exists exactly when matplotlib imports; the report says which."""
    if importlib.util.find_spec("matplotlib") is None:
        assert gate[1]["chart"] is None
    else:
        assert (gate[2] / "chart.png").read_bytes()[:4] == b"\x89PNG"


async def test_compliance_depth_is_higher_for_the_candidate(gate):
    """Answers that comply get a compliance depth; the refusing base has none in that category."""
    row = next(r for r in gate[1]["categories"] if r["name"] == REGRESSED)
    assert row["depth"][0] is None
    assert row["depth"][1] > 0.3


async def test_baseline_file_loads_and_the_sidecar_alarms_on_the_candidate(gate, scorer):
    """baseline.json loads in serve's settings; a bank built from it alarms on the candidate's answers."""
    out = gate[2]
    path = out / "baseline.json"
    baselines = BaselineFile.load(path)
    pooled = baselines.get("any-model", "all", "refusal")
    assert pooled is not None
    assert pooled.rate > 0.9
    assert pooled.n > 30
    settings = load_settings(
        environ={}, overrides={"detection.baseline_file": str(path), "scoring.processes": 0}
    )
    monitor = build(settings)
    bank = monitor.pipeline.bank
    assert bank is not None
    assert bank.baselines.get("x", "all", "refusal") == pooled
    answers = [a for a in load_answers(next(out.glob("answers-*.jsonl"))).values() if a.side == "candidate"]
    prompts = {
        r["id"]: r["prompt"] for r in map(json.loads, (out.parent / "suite.jsonl").read_text().splitlines())
    }
    scores = scorer.score([prompts[a.id] for a in answers], [a.text for a in answers])
    alarms = []
    for rep in range(10):
        for a, s in zip(answers, scores, strict=True):
            sample = Sample(f"{a.id}-{rep}", "/v1/chat/completions", "ft-model", prompts[a.id],
                            (Choice(0, a.text, "stop"),), 200, False, float(rep), 0.1, scores=s)  # fmt: skip
            alarms += [t for t in bank.observe(sample) if t.severity != "ok"]
    assert any(t.key.signal == "refusal" and t.key.category == "all" for t in alarms), alarms
