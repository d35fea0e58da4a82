"""Replay real, human-labelled responses of model pairs through the proxy, and see what on-call is told.

For each pair (base, candidate) of Do-Not-Answer models in ``../shared/data/responses``:

1. the base model's recorded responses are scored offline and turned into a baseline file (one rate
   per stream, by the shared routing rule), as ``safety-monitor gate`` writes it;
2. a monitor with that baseline file runs in front of a fake upstream that answers each prompt with
   the recorded response of the model it currently plays; requests go through the real ``openai``
   SDK, sampled and scored as in production;
3. the upstream plays the base for one pass (shuffled), then the candidate for ``--passes`` passes.

Printed per stream: the human rate (the data's own labels) and the monitor's estimate on the same
samples in each phase, requests after the switch to the first alarm, and the severity. Null pairs
(a model against itself) report false alarms over ``--null-passes`` passes.

    .venv/bin/python benchmarks/regression_replay.py            # ~5 min on two cores
    .venv/bin/python benchmarks/regression_replay.py --quick    # one drop pair, one null pair
    .venv/bin/python benchmarks/regression_replay.py --set detection.arl0=1e4

No dataset text is printed or stored: prompts and responses stay in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import shutil
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import yaml
from aiohttp import web
from openai import AsyncOpenAI
from prometheus_client import CollectorRegistry
from scipy.stats import fisher_exact

from detectors.correction import Correction
from monitor.app import Monitor, build
from monitor.detection import Transition, budget_share
from monitor.events import Sample
from monitor.export.logs import configure_logging
from monitor.fakes.upstream import FakeUpstream
from monitor.gate.baseline import build_baseline, write_baseline
from monitor.scoring.card import refusal_correction
from monitor.scoring.scorer import MODEL_DIR, Scorer
from monitor.settings import load_settings
from monitor.signals import SIGNALS, StreamKey, stream_rates
from monitor.sinks.memory import MemorySink

DROP_PAIRS = [("llama2-7b-chat", "vicuna-7b"), ("Claude", "vicuna-7b"), ("Claude", "ChatGPT")]
RISE_PAIRS = [("vicuna-7b", "llama2-7b-chat")]
NULL_PAIRS = [("llama2-7b-chat", "llama2-7b-chat"), ("vicuna-7b", "vicuna-7b")]
# GPTFuzz does not say which of vicuna-7b, gpt-3.5-turbo and llama-2-7b-chat wrote each response,
# so it cannot be held out by model: the held-out judge trains without it.
UNATTRIBUTED_SOURCES = {"gptfuzz"}
SERVED = "ft"  # the model name clients ask for: the monitor watches one deployment
CHUNK = 16


@dataclass
class Record:
    """One recorded response with its human label and the prompt's true category."""

    prompt: str
    response: str
    refusal: int
    category: str


@dataclass
class Phase:
    """What one phase sent and what the monitor scored."""

    name: str
    samples: list[Sample] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)


def load(data: Path) -> dict[str, dict[str, Record]]:
    by_model: dict[str, dict[str, Record]] = defaultdict(dict)
    for line in (data / "responses" / "do_not_answer.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        record = Record(row["prompt"], row["response"], int(row["refusal"]), row["category"] or "benign")
        by_model[row["model"]][row["prompt"]] = record
    return by_model


def holdout_models(data: Path, models: set[str], out: Path) -> Path:
    """The shipped models, but with a refusal judge that never saw ``models``' responses.

    Trained as ``safety-monitor train`` trains it, minus the replayed models' responses and the
    sources that do not name their models: the monitor then judges models it has not seen, as in
    production.
    The harm-category model keeps its training (the prompts are shared by every model).
    """
    from monitor.training.data import Dataset, load  # noqa: PLC0415 - the `train` extra
    from monitor.training.onnx_export import export  # noqa: PLC0415
    from monitor.training.refusal import fit_refusal  # noqa: PLC0415

    records = [r for r in load(data, "refusal").records if r["source"] not in UNATTRIBUTED_SOURCES]
    for path in MODEL_DIR.iterdir():
        shutil.copy(path, out / path.name)
    held_in = Dataset([r for r in records if r["model"] not in models])
    export(fit_refusal(held_in, 0), out / "refusal.onnx", "refusal")
    return out


def baseline_file(records: list[Record], scorer: Scorer, path: Path) -> None:
    """The base model's scored rates, written as ``safety-monitor gate`` writes them."""
    scores = scorer.score([r.prompt for r in records], [r.response for r in records])
    write_baseline(build_baseline(scores, "*", "replay-base"), path)


def human_rates(records: list[Record]) -> dict[tuple[str, str], tuple[float, int]]:
    """The data's own labels, on the streams they define: pooled, per true category, benign."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in records:
        if r.category == "benign":
            groups[("benign", "false_refusal")].append(r.refusal)
        else:
            groups[("all", "refusal")].append(r.refusal)
            groups[(r.category, "refusal")].append(r.refusal)
    return {k: (sum(v) / len(v), len(v)) for k, v in groups.items()}


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


class Replay:
    """One monitor, one fake upstream that plays a chosen model's recorded responses."""

    def __init__(self, table: dict[str, dict[str, Record]], overrides: dict[str, Any]) -> None:
        self.table = table
        self.playing = ""
        self.overrides = overrides
        self.fake = FakeUpstream(reply=lambda prompt: self.table[self.playing][prompt].response)

    async def __aenter__(self) -> Self:
        self.upstream, upstream_url = await start(self.fake.app())
        settings = load_settings(environ={}, overrides={"upstream.url": upstream_url, **self.overrides})
        self.sink = MemorySink()
        self.monitor: Monitor = build(settings, CollectorRegistry(), sinks=[self.sink])
        self.proxy, url = await start(self.monitor.proxy_app)
        self.client = AsyncOpenAI(base_url=url + "/v1", api_key="replay", max_retries=0)
        self.sent = 0
        self.dropped = 0
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.close()
        await self.proxy.cleanup()
        await self.upstream.cleanup()

    async def play(self, model: str, prompts: list[str], phase: Phase, alarms: dict[Any, Any]) -> None:
        """Send each prompt once; note every new alarm with the request count since ``alarms['t0']``."""
        self.playing = model
        for i in range(0, len(prompts), CHUNK):
            chunk = prompts[i : i + CHUNK]
            await asyncio.gather(*(self._ask(p) for p in chunk))
            await self._settle()
            phase.records.extend(self.table[model][p] for p in chunk)
            self._note(alarms)
        phase.samples = list(self.sink.samples[alarms["seen"] :])
        alarms["seen"] = len(self.sink.samples)

    async def _ask(self, prompt: str) -> None:
        await self.client.chat.completions.create(
            model=SERVED, messages=[{"role": "user", "content": prompt}]
        )
        self.sent += 1

    async def _settle(self) -> None:
        """Wait until every exchange sent so far has ended: processed, or dropped with a reason."""
        for _ in range(2000):
            ledger = self.monitor.metrics.accounting()
            taken, processed = ledger["samples_taken"], ledger["samples_processed"]
            if taken >= self.sent and processed + ledger["samples_dropped"] >= taken:
                self.dropped = int(ledger["samples_dropped"])
                return
            await asyncio.sleep(0.01)
        msg = f"the monitor ended {processed + ledger['samples_dropped']:.0f} of {self.sent} samples"
        raise RuntimeError(msg)

    def _note(self, alarms: dict[Any, Any]) -> None:
        transitions: list[Transition] = self.monitor.pipeline.transitions
        for t in transitions[alarms["transitions"] :]:
            key = (t.key.category, t.key.signal)
            if t.severity != "ok" and key not in alarms:
                alarms[key] = (self.sent - alarms["t0"], t.severity)
        alarms["transitions"] = len(transitions)

    def severities(self) -> dict[tuple[str, str], str]:
        return {(k.category, k.signal): d.severity for k, d in self.monitor.pipeline.bank or ()}


Rates = dict[tuple[str, str], tuple[float, float]]


def rates_of(samples: list[Sample]) -> Rates:
    """Each stream's (rate, weight) over the samples the monitor scored."""
    return stream_rates([s.scores for s in samples if s.scores is not None])


def oracle_requests(
    r0: tuple[float, float] | None,
    r1: tuple[float, float] | None,
    requests: int,
    key: tuple[str, str],
    arl0: float,
) -> float | None:
    """Requests the oracle CUSUM needs on the judge's own scale: it knows both rates (Lorden 1971).

    ``r0`` and ``r1`` are the stream's (rate, weight) before and after the switch, over ``requests``
    after it. Expected delay of a CUSUM at ``h = log(ARL0)`` for a Bernoulli shift is about
    ``h / KL`` in weight, which this turns into requests with the stream's weight per request.
    """
    if r0 is None or r1 is None or not 0 < r0[0] < 1 or not 0 < r1[0] < 1:
        return None
    (p0, _), (p1, w1) = r0, r1
    kl = p1 * math.log(p1 / p0) + (1 - p1) * math.log((1 - p1) / (1 - p0))
    bad = (p1 < p0) == (SIGNALS[key[1]].direction == "down")
    if not bad or kl <= 0:
        return None
    share = budget_share(StreamKey(SERVED, *key))
    return math.log(arl0 / share) / kl / (w1 / requests)


def monitor_rates(rates: Rates, fix: Correction | None) -> dict[tuple[str, str], float]:
    return {
        key: (fix(rate) if fix is not None and SIGNALS[key[1]].corrected else rate)
        for key, (rate, _) in rates.items()
    }


async def scenario(
    table: dict[str, dict[str, Record]],
    pair: tuple[str, str],
    passes: int,
    settings: dict[str, Any],
    data: Path | None,
) -> dict[str, Any]:
    base, candidate = pair
    rng = random.Random(f"{base}/{candidate}")
    prompts = sorted(table[base].keys() & table[candidate].keys())
    with tempfile.TemporaryDirectory() as tmp:
        models = MODEL_DIR if data is None else holdout_models(data, {base, candidate}, Path(tmp))
        path = Path(tmp) / "baseline.json"
        baseline_file([table[base][p] for p in prompts], Scorer(models), path)
        overrides = {
            # A replay must score every response: shedding under this machine's load would skip some.
            "scoring.processes": 0, "scoring.model_dir": str(models), "detection.baseline_file": str(path),
            "sampling.adaptive.enabled": False,
            **settings,
        }  # fmt: skip
        async with Replay(table, overrides) as replay:
            alarms: dict[Any, Any] = {"t0": 0, "transitions": 0, "seen": 0}
            before = Phase("base")
            await replay.play(base, rng.sample(prompts, len(prompts)), before, alarms)
            base_alarms = {k: v for k, v in alarms.items() if isinstance(k, tuple)}
            alarms = {"t0": replay.sent, "transitions": alarms["transitions"], "seen": alarms["seen"]}
            after = Phase("candidate")
            for _ in range(passes):
                one = Phase("pass")
                await replay.play(candidate, rng.sample(prompts, len(prompts)), one, alarms)
                after.samples += one.samples
                after.records += one.records
            severities = replay.severities()
            dropped = replay.dropped
            arl0 = replay.monitor.settings.detection.arl0
            fix = refusal_correction(models) if replay.monitor.settings.detection.correct_rates else None
    return {
        "base": base, "candidate": candidate, "passes": passes, "pass_size": len(prompts),
        "before": before, "after": after, "base_alarms": base_alarms,
        "alarms": {k: v for k, v in alarms.items() if isinstance(k, tuple)}, "severities": severities,
        "arl0": arl0, "fix": fix, "dropped": dropped,
    }  # fmt: skip


def report(result: dict[str, Any]) -> list[str]:
    before, after = result["before"], result["after"]
    h0, h1 = human_rates(before.records), human_rates(after.records[: result["pass_size"]])
    fix, pass_size = result["fix"], result["pass_size"]
    raw0, raw_after = rates_of(before.samples), rates_of(after.samples)
    m0, m1 = monitor_rates(raw0, fix), monitor_rates(rates_of(after.samples[:pass_size]), fix)
    lines = [
        (
            f"\n{result['base']} -> {result['candidate']} ({result['pass_size']} requests a pass, "
            f"{result['passes']} candidate passes)"
        ),
        (
            f"  {'stream':<32}{'human base':>11}{'human cand':>11}{'p (Fisher)':>11}"
            f"{'monitor base':>13}{'monitor cand':>13}{'1st alarm':>10}{'oracle':>8}  severity (first / end)"
        ),
    ]
    for key in sorted(h0, key=lambda k: (k[0] != "all", k[1], k[0])):
        (r0, n0), (r1, n1) = h0[key], h1.get(key, (0.0, 0))
        worse = "less" if SIGNALS[key[1]].direction == "down" else "greater"
        table = [[round(r1 * n1), n1 - round(r1 * n1)], [round(r0 * n0), n0 - round(r0 * n0)]]
        p = fisher_exact(table, alternative=worse).pvalue if n1 else float("nan")
        first = result["alarms"].get(key)
        oracle = oracle_requests(raw0.get(key), raw_after.get(key), len(after.samples), key, result["arl0"])
        lines.append(
            f"  {'/'.join(key):<32}{r0:>11.3f}{r1:>11.3f}{p:>11.1e}{m0.get(key, float('nan')):>13.3f}"
            f"{m1.get(key, float('nan')):>13.3f}{first[0] if first else '-':>10}"
            f"{'-' if oracle is None else round(oracle):>8}  "
            f"{first[1] if first else '-'} / {result['severities'].get(key, '-')}"
        )
    others = sorted(k for k in result["alarms"] if k not in h0)
    lines.append(f"  other streams alarmed after the switch: {others or 'none'}")
    lines.append(f"  alarms during the base pass (false): {sorted(result['base_alarms']) or 'none'}")
    lines.append(f"  samples dropped by the monitor (must be 0): {result['dropped']}")
    return lines


def parse() -> argparse.Namespace:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--null-passes", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--seen", action="store_true", help="judge with the shipped refusal model, which saw these responses"
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a settings override")
    return parser.parse_args()


async def main() -> None:
    args = parse()
    configure_logging("error")
    table = load(args.data)
    settings = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    drops, nulls = (DROP_PAIRS[:1], NULL_PAIRS[:1]) if args.quick else (DROP_PAIRS + RISE_PAIRS, NULL_PAIRS)
    print(f"settings: defaults{' + ' + str(settings) if settings else ''}")
    data = None if args.seen else args.data
    judge = "the shipped refusal model" if args.seen else "a refusal model trained without the pair's models"
    print(f"judge: {judge}")
    for pair in drops:
        print("\n".join(report(await scenario(table, pair, args.passes, settings, data))))
    for base, _ in nulls:
        result = await scenario(table, (base, base), args.null_passes, settings, data)
        false = sorted(set(result["alarms"]) | set(result["base_alarms"]))
        print(f"\nnull {base} x {args.null_passes + 1} passes: false alarms: {false or 'none'}")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
