"""A real model pair from Do-Not-Answer, replayed through fake upstreams, against the human labels.

llama2-7b-chat is the base, vicuna-7b the candidate; each fake answers a prompt with that model's
recorded response. The data stays in ../shared/data: the suite is written to a temporary folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from components import require
from gatekit import options

from monitor.gate import load_answers, load_suite, run_gate
from monitor.gate.analysis import analyse, fold
from monitor.gate.decision import decide
from monitor.gate.judges import Judgement
from monitor.scoring.scorer import Scorer

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "responses" / "do_not_answer.jsonl"
BASE, CANDIDATE = "llama2-7b-chat", "vicuna-7b"


@pytest.fixture(scope="module")
def records():
    require("../shared/data", DATA.exists(), "the shared data folder beside the repository")
    by: dict[str, dict[str, dict]] = {}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        by.setdefault(r["model"], {})[r["prompt"]] = r
    return by


def human_analysis(records, items, answers):
    """The same tables, with each answer judged by its human label instead of the judges."""
    prompts = {i.id: i.prompt for i in items}
    placeholder = Scorer().score(["x"], ["y"])[0]
    judged = {}
    for side, ident, k in answers:
        label = bool(records[BASE if side == "base" else CANDIDATE][prompts[ident]]["refusal"])
        judged[side, ident, k] = Judgement(placeholder, label, label, incoherent=False, toxic=False)
    return analyse(fold(items, answers, judged, 1))


async def test_do_not_answer_pair_agrees_with_the_human_labels(records, serve, tmp_path):
    """The gate's decision equals the decision from human labels; per-category rates are close."""
    suite = tmp_path / "dna.jsonl"
    rows = [{"id": r["id"].rsplit(":", 1)[1], "prompt": p, "category": r["category"],
             "harmful": r["category"] != "benign"} for p, r in records[BASE].items()]  # fmt: skip
    suite.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _, base = await serve(lambda p: records[BASE][p]["response"])
    _, cand = await serve(lambda p: records[CANDIDATE][p]["response"])
    out = tmp_path / "out"
    result = await run_gate(options(base, cand, suite, out), log=lambda _: None)
    items = load_suite(suite).items
    human = human_analysis(records, items, load_answers(next(out.glob("answers-*.jsonl"))))
    assert result.decision.verdict == decide(human).verdict
    got = {r.name: r.classifier for r in result.analysis.categories}
    for row in human.categories:
        if row.classifier.base.n >= 40:
            for side in ("base", "candidate"):
                truth = getattr(row.classifier, side)
                # A category's few dozen prompts: two binomial standard errors, at least 6 points.
                tolerance = max(0.06, 2 * (truth.rate * (1 - truth.rate) / truth.n) ** 0.5)
                assert abs(getattr(got[row.name], side).rate - truth.rate) < tolerance, (row.name, side)
    pooled, truth = result.analysis.overall.classifier, human.overall.classifier
    assert abs(pooled.delta - truth.delta) < 0.03
    assert result.analysis.overall.significant == human.overall.significant
