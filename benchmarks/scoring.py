"""Classifier speed and memory: pairs/s batched on one core, single-pair latency, size, RSS.

Typical pair: a ~50-token prompt (38 words) and a ~300-token response (230 words). With
../shared/data present the words are real: responses from its response files are cut or joined to
that length, at run time, so the word-hash cache sees real vocabulary. Without it, synthetic words
are drawn Zipf-like from a 30,000-word vocabulary. The baseline in the same run is a refusal
keyword scan over the same texts (the cheapest judge there is).

    python benchmarks/scoring.py [--pairs 4000] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from monitor.scoring.scorer import MODEL_DIR, TOXICITY_HEAD, Scorer
from monitor.scoring.session import HeadSession

LETTERS = "etaoinshrdlucmfwypvbgkjqxz"


def vocabulary(size: int, rng: random.Random) -> list[str]:
    return ["".join(rng.choice(LETTERS[:12]) for _ in range(rng.randint(2, 9))) for _ in range(size)]


KEYWORDS = ("i'm sorry", "i cannot", "i can't", "as an ai", "i won't", "i am unable")


def text(rng: random.Random, words: int, vocab: list[str], weights: list[float]) -> str:
    return " ".join(rng.choices(vocab, weights, k=words)) + "."


def real_texts(data: Path, pairs: int, rng: random.Random) -> tuple[list[str], list[str]]:
    records = []
    for path in sorted((data / "responses").glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            records.extend(json.loads(line) for line in lines if line.strip())
    rng.shuffle(records)
    words = itertools.cycle(w for r in records for w in r["response"].split())
    prompt_words = itertools.cycle(w for r in records for w in r["prompt"].split())
    prompts = [" ".join(itertools.islice(prompt_words, 38)) for _ in range(pairs)]
    responses = [" ".join(itertools.islice(words, 230)) for _ in range(pairs)]
    return prompts, responses


def synthetic_texts(pairs: int, rng: random.Random) -> tuple[list[str], list[str]]:
    vocab = vocabulary(30_000, rng)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(vocab))]
    prompts = [text(rng, 38, vocab, weights) for _ in range(pairs)]
    responses = [text(rng, 230, vocab, weights) for _ in range(pairs)]
    return prompts, responses


def _rates(encoder: bool, prompts: list[str], responses: list[str], pairs: int) -> tuple[float, float]:
    """(pairs/s batched by 64, single-pair p99 in seconds), each with a fresh scorer.

    Fresh, so no prompt comes from the encoder's cache: every text here is new to the scorer.
    """
    scorer = Scorer(encoder=encoder)
    scorer.score(["A warm-up prompt."], ["A warm-up answer."])  # caches nothing measured
    start = time.perf_counter()
    for i in range(0, pairs, 64):
        scorer.score(prompts[i : i + 64], responses[i : i + 64])
    batched = pairs / (time.perf_counter() - start)
    scorer, single = Scorer(encoder=encoder), []
    for i in range(min(pairs, 1000)):
        t = time.perf_counter()
        scorer.score([prompts[i]], [responses[i]])
        single.append(time.perf_counter() - t)
    return batched, statistics.quantiles(single, n=100)[98]


def main(args: argparse.Namespace) -> None:
    # RSS is read before the benchmark texts are built so it reflects the service's footprint.
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Scorer()  # loaded for its memory only
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rng = random.Random(0)
    if (args.data / "responses").is_dir():
        source = f"real words from {args.data}"
        prompts, responses = real_texts(args.data, args.pairs, rng)
    else:
        source = "synthetic Zipf words"
        prompts, responses = synthetic_texts(args.pairs, rng)
    start = time.perf_counter()
    _ = [any(k in r.lower() for k in KEYWORDS) for r in responses]
    keyword_rate = args.pairs / (time.perf_counter() - start)
    linear, linear_p99 = _rates(False, prompts, responses, args.pairs)
    blended, p99 = _rates(True, prompts, responses, args.pairs)
    size = sum(p.stat().st_size for p in MODEL_DIR.glob("*.onnx")) / 2**20
    print(f"texts: {source}")
    print(f"{'measure':42} {'value':>12} {'target':>12}")
    print(f"{'pairs/s, batched 64, one core: linear tier':42} {linear:12,.0f} {'':>12}")
    print(f"{'pairs/s, batched 64, one core: shipped':42} {blended:12,.0f} {'>= 2,000':>12}")
    print(f"{'  shipped vs linear tier (same texts)':42} {blended / linear:12.3f} {'':>12}")
    print(f"{'  linear tier vs keyword scan':42} {linear / keyword_rate:12.3f} {'':>12}")
    print(f"{'single pair p99 (ms): linear tier':42} {1000 * linear_p99:12.2f} {'<= 5':>12}")
    print(f"{'single pair p99 (ms): shipped':42} {1000 * p99:12.2f} {'':>12}")
    print(f"{'model files (MB)':42} {size:12.1f} {'<= 60':>12}")
    print(f"{'process max RSS after load (MB)':42} {rss_after:12.0f} {'<= 300':>12}")
    print(f"{'  of which models and runtime (MB)':42} {rss_after - rss_before:12.0f} {'':>12}")
    cascade = HeadSession(MODEL_DIR / TOXICITY_HEAD).cascade
    linear_scores = Scorer(encoder=False).score(prompts, responses)
    sent = 100 * sum(s.toxicity >= cascade for s in linear_scores) / len(responses)
    print(f"heavy tier: 100 % of prompts (harm category); {sent:.1f} % of responses (toxicity >= {cascade})")
    print("linear tier: Scorer(encoder=False), scoring.encoder: false, or a model_dir without encoder.onnx")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=4000)
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[1] / ".." / "shared" / "data")
    main(parser.parse_args())
