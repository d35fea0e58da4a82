"""The pre-deployment regression gate: base model against fine-tune, a decision and a baseline file.

``safety-monitor gate`` runs a suite on two OpenAI-compatible endpoints (:mod:`.runner`), judges
every answer twice (:mod:`.judges`), compares them per harm category (:mod:`.analysis`,
:mod:`.stats`), decides (:mod:`.decision`), reports (:mod:`.report`) and writes the sidecar's
baseline file (:mod:`.baseline`).
"""

from __future__ import annotations

from monitor.gate.baseline import build_baseline, write_baseline
from monitor.gate.command import GateOptions, exit_code, run_gate
from monitor.gate.decision import Decision, decide
from monitor.gate.judges import PhraseJudge
from monitor.gate.runner import Answer, Endpoint, RunSettings, load_answers, run_all
from monitor.gate.suite import MAPPINGS, SANITY_SUITE, Item, Suite, load_suite
from monitor.gate.variants import VARIANTS

__all__ = [
    "MAPPINGS",
    "SANITY_SUITE",
    "VARIANTS",
    "Answer",
    "Decision",
    "Endpoint",
    "GateOptions",
    "Item",
    "PhraseJudge",
    "RunSettings",
    "Suite",
    "build_baseline",
    "decide",
    "exit_code",
    "load_answers",
    "load_suite",
    "run_all",
    "run_gate",
    "write_baseline",
]
