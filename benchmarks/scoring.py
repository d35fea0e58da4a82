"""Classifier speed and memory: pairs/s batched on one core, single-pair latency, size, RSS.

Typical pair: a ~50-token prompt and a ~300-token response, generated from our own word list. The
baseline in the same run is a refusal keyword scan over the same texts (the cheapest judge there is).

    python benchmarks/scoring.py [--pairs 4000]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from monitor.scoring.scorer import MODEL_DIR, Scorer

WORDS = (
    "the model answer request please explain how to make a simple plan for my garden and why water "
    "matters in summer when plants grow fast under sun with soil that holds moisture well so roots stay"
).split()
KEYWORDS = ("i'm sorry", "i cannot", "i can't", "as an ai", "i won't", "i am unable")


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


def main(args: argparse.Namespace) -> None:
    rng = random.Random(0)
    prompts = [text(rng, 38) for _ in range(args.pairs)]
    responses = [text(rng, 230) for _ in range(args.pairs)]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scorer = Scorer()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    _ = [any(k in r.lower() for k in KEYWORDS) for r in responses]
    keyword_rate = args.pairs / (time.perf_counter() - start)
    scorer.score(prompts[:64], responses[:64])
    start = time.perf_counter()
    for i in range(0, args.pairs, 64):
        scorer.score(prompts[i : i + 64], responses[i : i + 64])
    batched = args.pairs / (time.perf_counter() - start)
    single = []
    for i in range(min(args.pairs, 1000)):
        t = time.perf_counter()
        scorer.score([prompts[i]], [responses[i]])
        single.append(time.perf_counter() - t)
    p99 = statistics.quantiles(single, n=100)[98]
    size = sum(p.stat().st_size for p in MODEL_DIR.glob("*.onnx")) / 2**20
    print(f"{'measure':38} {'value':>12} {'target':>12}")
    print(f"{'pairs/s, batched 64, one core':38} {batched:12,.0f} {'>= 2,000':>12}")
    print(f"{'  vs keyword scan (same texts)':38} {batched / keyword_rate:12.3f} {'':>12}")
    print(f"{'single pair p99 (ms)':38} {1000 * p99:12.2f} {'<= 5':>12}")
    print(f"{'model files (MB)':38} {size:12.1f} {'<= 30':>12}")
    print(f"{'process max RSS after load (MB)':38} {rss_after:12.0f} {'<= 250':>12}")
    print(f"{'  of which models and runtime (MB)':38} {rss_after - rss_before:12.0f} {'':>12}")
    print("cascade: none; every pair goes through the same three linear models (heavy share 0 %)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=4000)
    main(parser.parse_args())
