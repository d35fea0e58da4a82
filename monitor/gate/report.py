"""The gate's report: one JSON-ready dict, rendered as Markdown, JUnit XML and an optional PNG chart.

Sections: summary (decision, composite score), per-category table (rates, deltas, intervals,
p-values, status), variants, false refusals, toxicity and incoherence, consistency over K samples,
judge agreement, capability, flagged prompts (by digest unless text capture is allowed), sizing and
the recommendation. The chart needs matplotlib; without it the report says the chart was skipped.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.gate.analysis import Analysis, Row
from monitor.gate.capability import Capability
from monitor.gate.decision import Decision
from monitor.gate.sizing import Size
from monitor.gate.stats import Comparison, Rate

__all__ = ["GateResult", "markdown", "to_dict", "write_chart", "write_junit", "write_reports"]


@dataclass(frozen=True, slots=True)
class GateResult:
    """Everything one gate run found."""

    suite: str
    base_model: str
    candidate_model: str
    samples: int
    analysis: Analysis
    decision: Decision
    phrase_decision: Decision
    sizes: list[Size]
    capability: Capability | None = None
    capture_text: bool = False


def _rate(r: Rate) -> dict[str, Any]:
    low, high = r.interval
    return {"x": r.x, "n": r.n, "rate": round(r.rate, 4), "ci95": [round(low, 4), round(high, 4)]}


def _comparison(c: Comparison) -> dict[str, Any]:
    return {
        "base": _rate(c.base),
        "candidate": _rate(c.candidate),
        "delta": round(c.delta, 4),
        "z": round(c.z.statistic, 4),
        "p_z": c.z.p_value,
        "p_fisher": c.fisher.p_value,
    }


def _row(row: Row) -> dict[str, Any]:
    return {
        "name": row.name,
        **_comparison(row.classifier),
        "change": round(row.change, 4),
        "p_z_adjusted": row.p_z,
        "p_fisher_adjusted": row.p_fisher,
        "significant": row.significant,
        "status": row.status,
        "phrase_judge": _comparison(row.phrase)
        | {"p_fisher_adjusted": row.p_phrase, "status": row.phrase_status},
        "judges_differ": row.status != row.phrase_status,
        "agreement": None if row.agreement is None else round(row.agreement, 4),
        "depth": [None if d is None else round(d, 4) for d in row.depth],
    }


def to_dict(result: GateResult) -> dict[str, Any]:
    """The whole report, JSON-ready."""
    a, d = result.analysis, result.decision
    return {
        "suite": result.suite,
        "base": result.base_model,
        "candidate": result.candidate_model,
        "samples": result.samples,
        "alpha": a.overall.alpha,
        "decision": {
            "verdict": d.verdict,
            "advice": d.advice,
            "reasons": list(d.reasons),
            "not_significant": list(d.not_significant),
            "blocking_categories": list(d.blocking_categories),
        },
        "phrase_judge_decision": result.phrase_decision.verdict,
        "composite": {
            "base": round(a.composite[0], 4),
            "candidate": round(a.composite[1], 4),
            "p": a.composite[2],
            "weights": a.weights,
        },
        "overall": _row(a.overall),
        "categories": [_row(r) for r in a.categories],
        "false_refusal": _row(a.false_refusal),
        "toxicity": _comparison(a.toxicity.classifier),
        "incoherent": {"base": _rate(a.incoherent[0]), "candidate": _rate(a.incoherent[1])},
        "variants": [_row(r) for r in a.variants],
        "consistency": {
            s: {"mean_variance": round(v, 4), "flipping_prompts": f} for s, (v, f) in a.consistency.items()
        },
        "judge_agreement": round(a.agreement, 4),
        "judges_differ": [r.name for r in a.categories if r.status != r.phrase_status],
        "capability": None if result.capability is None else _comparison(result.capability.comparison),
        "changed": [
            _changed(item.id, item.prompt, item.category, b, c, result.capture_text)
            for item, b, c in a.changed
        ],
        "sizing": [
            {"category": s.category, "n": s.n, "drop": round(s.drop, 4), "warning": s.warning}
            for s in result.sizes
        ],
    }


def _changed(ident: str, prompt: str, category: str, base: float, cand: float, text: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ident, "category": category, "base_refusal": base, "candidate_refusal": cand}
    out["prompt" if text else "prompt_sha256"] = (
        prompt if text else hashlib.sha256(prompt.encode()).hexdigest()[:16]
    )
    return out


_LISTED = 50  # changed prompts listed in Markdown; report.json has them all


def _pct(v: float) -> str:
    return f"{v:.1%}"


def _ci(x: dict[str, Any]) -> str:
    return f"{_pct(x['rate'])} [{_pct(x['ci95'][0])}, {_pct(x['ci95'][1])}]"


def _md_row(r: dict[str, Any]) -> str:
    b, c = r["base"], r["candidate"]
    return (
        f"| {r['name']} | {b['n']} | {_ci(b)} | {_ci(c)} | {r['delta'] * 100:+.1f} | {r['change']:+.0%} | "
        f"{r['p_z_adjusted']:.2g} | {r['p_fisher_adjusted']:.2g} | {r['status']} | "
        f"{r['phrase_judge']['status']} | {'' if r['agreement'] is None else _pct(r['agreement'])} |"
    )


_HEADER = (
    "| category | n | base RR [95 % CI] | candidate RR [95 % CI] | ΔRR (points) | drop | p (z, Holm) "
    "| p (Fisher, Holm) | status | phrase judge | agreement |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def markdown(data: dict[str, Any]) -> str:
    """The report in Markdown."""
    d, comp = data["decision"], data["composite"]
    lines = [
        f"# Safety regression gate: {data['candidate']} against {data['base']}",
        "",
        f"Suite `{data['suite']}`, {data['samples']} sample(s) per prompt, α = {data['alpha']}.",
        "",
        "## Summary",
        "",
        f"**Decision: {d['verdict']}** ({d['advice']}).",
        (
            f"Composite safety score: base {comp['base']:.3f}, candidate {comp['candidate']:.3f} "
            f"(p = {comp['p']:.2g})."
        ),
        f"Second judge (refusal phrases) decides: {data['phrase_judge_decision']}.",
        "",
        *[f"- {r}" for r in d["reasons"]],
        *[f"- not significant, so not counted: {r}" for r in d["not_significant"]],
        "",
        "## Refusal of harmful prompts per category",
        "",
        _HEADER,
        *[_md_row(r) for r in data["categories"]],
        _md_row(data["overall"]),
        "",
    ]
    lines += _md_sections(data)
    return "\n".join(lines) + "\n"


def _md_sections(data: dict[str, Any]) -> list[str]:
    fr, tox, inc = data["false_refusal"], data["toxicity"], data["incoherent"]
    out = ["## False refusals on benign prompts", "", _HEADER, _md_row(fr), ""]
    out += [
        "## Toxicity and incoherence",
        "",
        (
            f"Toxic share: base {_pct(tox['base']['rate'])}, candidate {_pct(tox['candidate']['rate'])} "
            f"(p = {tox['p_fisher']:.2g})."
        ),
        (
            f"Incoherent share (kept out of refusal rates): base {_pct(inc['base']['rate'])}, "
            f"candidate {_pct(inc['candidate']['rate'])}."
        ),
        "",
    ]
    if len(data["variants"]) > 1:
        out += ["## Adversarial variants", "", _HEADER, *[_md_row(r) for r in data["variants"]], ""]
    out += [
        "## Compliance depth (answers to harmful prompts)",
        "",
        "| category | base | candidate |",
        "|---|---|---|",
    ]
    out += [
        f"| {r['name']} | {_depth(r['depth'][0])} | {_depth(r['depth'][1])} |"
        for r in [*data["categories"], data["overall"]]
    ]
    out += ["", "## Consistency", ""]
    out += [
        f"- {s}: mean per-prompt refusal variance {v['mean_variance']}, {v['flipping_prompts']} prompts flip"
        for s, v in data["consistency"].items()
    ]
    out += [
        "",
        "## Judge agreement",
        "",
        f"Classifier and phrase judge agree on {_pct(data['judge_agreement'])} of answers.",
    ]
    differ = data["judges_differ"]
    out += [f"Categories where the judges' decisions differ: {', '.join(differ) if differ else 'none'}.", ""]
    if data["capability"]:
        cap = data["capability"]
        out += [
            "## Capability",
            "",
            (
                f"Exact match: base {_pct(cap['base']['rate'])}, candidate {_pct(cap['candidate']['rate'])} "
                f"(Δ {cap['delta'] * 100:+.1f} points, p = {cap['p_fisher']:.2g})."
            ),
            "",
        ]
    out += ["## Prompts whose behaviour changed", ""]
    out += [_md_changed(c) for c in data["changed"][:_LISTED]] or ["none"]
    if len(data["changed"]) > _LISTED:
        out.append(f"- … and {len(data['changed']) - _LISTED} more (all in report.json)")
    out += ["", "## Sizing", "", "| category | prompts | minimum detectable drop |", "|---|---|---|"]
    out += [f"| {s['category']} | {s['n']} | {s['drop'] * 100:.0f} points |" for s in data["sizing"]]
    out += [f"\nWarning: {s['warning']}" for s in data["sizing"] if s["warning"]]
    out += ["", "## Recommendation", "", f"{data['decision']['advice'].capitalize()}."]
    return out


def _md_changed(c: dict[str, Any]) -> str:
    name = c.get("prompt_sha256") or c.get("prompt")
    change = f"{c['base_refusal']:.2f} → {c['candidate_refusal']:.2f}"
    return f"- {c['id']} ({c['category']}): refusal {change} `{name}`"


def _depth(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def write_junit(data: dict[str, Any], path: Path) -> None:
    """JUnit XML: one test case per category, the pooled and false-refusal rows, and the decision."""
    rows = [*data["categories"], data["overall"], data["false_refusal"]]
    suite = ET.Element("testsuite", name="safety-gate", tests=str(len(rows) + 1))
    failures = 0
    for r in rows:
        case = ET.SubElement(suite, "testcase", classname="safety-gate.refusal", name=r["name"])
        if r["status"] in {"high", "critical"} or r["name"] in data["decision"]["blocking_categories"]:
            failures += 1
            ET.SubElement(
                case, "failure", message=f"{r['name']}: {r['status']}, change {r['change']:+.0%}"
            ).text = json.dumps(r)
    case = ET.SubElement(suite, "testcase", classname="safety-gate", name="decision")
    if data["decision"]["verdict"] == "block":
        failures += 1
        ET.SubElement(case, "failure", message="block: " + "; ".join(data["decision"]["reasons"]))
    suite.set("failures", str(failures))
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def write_chart(data: dict[str, Any], path: Path) -> bool:
    """A PNG of per-category refusal rates with intervals; ``False`` when matplotlib is missing."""
    try:
        import matplotlib as mpl  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415
    except ImportError:
        return False
    rows = [*data["categories"], data["overall"]]
    fig, ax = plt.subplots(figsize=(max(6, len(rows) * 0.9), 4))
    for offset, side in ((-0.2, "base"), (0.2, "candidate")):
        rates = [r[side]["rate"] for r in rows]
        errs = [
            [r[side]["rate"] - r[side]["ci95"][0] for r in rows],
            [r[side]["ci95"][1] - r[side]["rate"] for r in rows],
        ]
        ax.bar([i + offset for i in range(len(rows))], rates, 0.4, yerr=errs, capsize=3, label=side)
    ax.set_xticks(range(len(rows)), [r["name"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel("refusal rate of harmful prompts")
    ax.set_ylim(0, 1.05)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_reports(result: GateResult, out: Path) -> dict[str, Path]:
    """Write report.json, report.md, junit.xml and (with matplotlib) chart.png into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    data = to_dict(result)
    paths = {"json": out / "report.json", "markdown": out / "report.md", "junit": out / "junit.xml"}
    chart = out / "chart.png"
    data["chart"] = chart.name if write_chart(data, chart) else None
    paths["json"].write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown(data), encoding="utf-8")
    write_junit(data, paths["junit"])
    if data["chart"]:
        paths["chart"] = chart
    return paths
