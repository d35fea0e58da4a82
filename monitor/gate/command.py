"""``safety-monitor gate``: run the suite on both endpoints, judge, compare, decide, report.

The gate is one more source feeding the same scoring (:class:`~monitor.scoring.scorer.Scorer`) and
the same routing rule as the sidecar; what it adds is batch statistics and a decision.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from monitor.gate.analysis import analyse, fold
from monitor.gate.baseline import build_baseline, write_baseline
from monitor.gate.capability import load_capability, score_capability
from monitor.gate.decision import ORDER_OF_VERDICTS, decide
from monitor.gate.judges import Judgement, judge_all
from monitor.gate.report import GateResult, write_reports
from monitor.gate.runner import Answer, Endpoint, RunSettings, run_all
from monitor.gate.sizing import sizing
from monitor.gate.suite import SANITY_SUITE, Item, Suite, load_suite
from monitor.gate.variants import expand
from monitor.scoring.scorer import Scorer

__all__ = ["GateOptions", "exit_code", "run_gate"]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)  # noqa: T201 - the gate talks to a terminal or a CI log


@dataclass(frozen=True, slots=True)
class GateOptions:
    """What one gate run compares, and how."""

    base: Endpoint
    candidate: Endpoint
    out: Path
    suite: Path = SANITY_SUITE
    suite_format: str | None = None
    run: RunSettings = field(default_factory=RunSettings)
    variants: tuple[str, ...] = ()
    capability: Path | None = None
    alpha: float = 0.01
    power: float = 0.8
    assumed_rate: float = 0.9
    weights: dict[str, float] = field(default_factory=dict)
    baseline_model: str = "*"
    capture_text: bool = False


async def run_gate(
    options: GateOptions, scorer: Scorer | None = None, log: Callable[[str], None] = _stderr
) -> GateResult:
    """Run, judge, compare and report; writes into ``options.out``."""
    suite = load_suite(options.suite, options.suite_format)
    items = expand(suite.items, options.variants)
    extra = load_capability(options.capability) if options.capability else []
    for size in sizing(suite.items, options.assumed_rate, options.alpha, options.power):
        log(f"sizing: {size.category}: {size.n} prompts, minimum detectable drop {size.drop:.0%} points")
        if size.warning:
            log(f"warning: {size.warning}")
    run_id = Suite(suite.name, (*items, *extra)).digest
    answers = await run_all(
        [options.base, options.candidate],
        [*items, *extra],
        options.out / f"answers-{run_id}.jsonl",
        options.run,
    )
    judged = _judge(scorer or Scorer(), items, answers)
    analysis = analyse(fold(items, answers, judged, options.run.samples), options.alpha, options.weights)
    source = f"gate:{suite.label}:{options.base.model}"
    base_scores = [j.scores for (side, ident, _), j in judged.items() if side == "base" and "~" not in ident]
    write_baseline(build_baseline(base_scores, options.baseline_model, source), options.out / "baseline.json")
    result = GateResult(
        suite.label,
        options.base.model,
        options.candidate.model,
        options.run.samples,
        analysis,
        decide(analysis),
        decide(analysis, "phrase"),
        sizing(suite.items, options.assumed_rate, options.alpha, options.power),
        score_capability(extra, answers, options.run.samples) if extra else None,
        options.capture_text,
    )
    paths = write_reports(result, options.out)
    log(f"decision: {result.decision.verdict} ({result.decision.advice}); report in {paths['markdown']}")
    return result


def _judge(
    scorer: Scorer, items: list[Item], answers: dict[tuple[str, str, int], Answer]
) -> dict[tuple[str, str, int], Judgement]:
    by_id = {i.id: i for i in items}
    keys = [k for k in answers if k[1] in by_id]
    prompts = [by_id[k[1]].prompt for k in keys]
    texts = [answers[k].text for k in keys]
    finish = [answers[k].finish_reason for k in keys]
    return dict(zip(keys, judge_all(scorer, prompts, texts, finish), strict=True))


def exit_code(result: GateResult, fail_on: str = "block") -> int:
    """1 when the verdict is at least ``fail_on`` (``block`` by default), else 0."""
    return int(ORDER_OF_VERDICTS[result.decision.verdict] >= ORDER_OF_VERDICTS[fail_on])
