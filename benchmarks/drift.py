"""Detector benchmark: false alarms, detection delay against the oracle, wobble and bursts, speed.

All detectors run on the same seeded streams in one run. The oracle is the Bernoulli CUSUM that
knows the true post-change rate; every sequential detector's threshold comes from the same
false-alarm budget (ARL0 = 1e6 observations). Nothing is tuned per scenario.

    python benchmarks/drift.py [--runs 400] [--length 1000000] [--quick]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from detectors import AdwinDetector, BernoulliCusum, DuplicateWeigher, RateShiftDetector, two_proportion_z

ARL0 = 1e6
ZONE = 0.03
SHIFTS = ((0.95, 0.85), (0.95, 0.90), (0.95, 0.60), (0.03, 0.10))


class WindowedZTest:
    """Classic safety-regression testing: a z-test of each window of 1000 against the baseline."""

    def __init__(self, p0: float, direction: str, window: int = 1000, alpha: float = 0.01) -> None:
        self.p0, self.direction, self.window, self.alpha = p0, direction, window, alpha
        self._n, self._x, self.drift_detected = 0, 0.0, False

    def update(self, x: float, weight: float = 1.0) -> None:
        self._n, self._x = self._n + 1, self._x + x
        self.drift_detected = False
        if self._n == self.window:
            base = round(self.p0 * self.window)
            test = two_proportion_z(base, self.window, round(self._x), self.window, self.direction)  # type: ignore[arg-type]
            self.drift_detected = test.significant(self.alpha)
            self._n, self._x = 0, 0.0


def make(name: str, p0: float, p1: float | None, warm: bool = False, zone: float = 0.0) -> Any:
    direction = "down" if p1 is None or p1 < p0 else "up"
    if name == "oracle CUSUM":
        return BernoulliCusum(
            p0, p1 if p1 is not None else (p0 - 0.1 if direction == "down" else p0 + 0.07), ARL0
        )
    if name == "rate_shift":
        return RateShiftDetector(None if warm else p0, direction, ARL0, zone=zone, warmup=5000)
    if name == "ADWIN":
        return AdwinDetector(p0, direction, warmup=1000)
    return WindowedZTest(p0, direction)


def feed(detector: Any, xs: np.ndarray, weights: np.ndarray | None = None) -> Iterator[int]:
    """Indices at which a new alarm starts (a persistent alarm counts once)."""
    update, weighted, before = (
        detector.update,
        weights is not None and isinstance(detector, RateShiftDetector),
        False,
    )
    for i, x in enumerate(xs.tolist()):
        if weighted:
            update(x, weights[i])  # type: ignore[index]
        else:
            update(x)
        now = detector.drift_detected
        if now and not before:
            yield i
        before = now


def false_alarms(name: str, p0: float, length: int, rng: np.random.Generator) -> int:
    direction_p1 = p0 - 0.1 if p0 > 0.5 else p0 + 0.07
    xs = (rng.random(length) < p0).astype(float)
    return sum(1 for _ in feed(make(name, p0, direction_p1 if name == "oracle CUSUM" else None), xs))


def delays(
    name: str, p0: float, p1: float, runs: int, rng: np.random.Generator, warm: bool, zone: float = 0.0
) -> list[int]:
    out = []
    for _ in range(runs):
        pre = (5000 if warm else 0) + 2000 + int(rng.integers(0, 1000))  # random phase for the z-test windows
        detector = make(name, p0, p1 if name != "rate_shift" else None, warm)
        if name == "rate_shift":
            direction = "down" if p1 < p0 else "up"
            detector = RateShiftDetector(None if warm else p0, direction, ARL0, warmup=5000, zone=zone)
        xs = np.concatenate([rng.random(pre) < p0, rng.random(60_000) < p1]).astype(float)
        for index in feed(detector, xs):
            if index >= pre:
                out.append(index - pre + 1)
                break
    return out


def wobble_stream(length: int, rng: np.random.Generator, bursts: bool) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(length)
    p = 0.95 + 0.02 * np.sin(2 * math.pi * t / 20_000 + rng.uniform(0, 2 * math.pi))
    xs = (rng.random(length) < p).astype(float)
    weights = np.ones(length)
    if not bursts:
        return xs, weights
    weigher, start = DuplicateWeigher(), 0
    keys: list[str | None] = [None] * length
    while True:
        start += int(rng.exponential(20_000))
        if start >= length:
            break
        end, previous, user = min(length, start + int(rng.integers(500, 4001))), None, f"user-{start}"
        for i in range(start, end):
            if rng.random() < 0.5:
                fresh = float(rng.random() < p[i])
                xs[i] = previous if previous is not None and rng.random() < 0.9 else fresh
                previous, keys[i] = xs[i], user
        start = end
    weights = np.array([weigher.weight(k) for k in keys])
    return xs, weights


def throughput(make_detector: Callable[[], Any], n: int = 200_000) -> float:
    xs = (np.random.default_rng(0).random(n) < 0.95).astype(float).tolist()
    detector, start = make_detector(), time.perf_counter()
    for x in xs:
        detector.update(x)
    return n / (time.perf_counter() - start)


def main(args: argparse.Namespace) -> None:
    names = ["oracle CUSUM", "rate_shift", "ADWIN", "z-test n=1000"]
    rng = np.random.default_rng(args.seed)
    print(f"false alarms per 1e6 observations (budget: 1; stream length {args.length:,})")
    for p0 in (0.95, 0.80, 0.03):
        counts = [false_alarms(n, p0, args.length, rng) * 1e6 / args.length for n in names]
        print(f"  p0={p0:<5} " + "  ".join(f"{n}: {c:6.1f}" for n, c in zip(names, counts, strict=True)))
    print(f"\ndetection delay in observations ({args.runs} runs each; ratio = median / oracle median)")
    header = f"  {'shift':12} {'detector':22} {'median':>8} {'p90':>8} {'x oracle':>9} {'p90 x':>7}"
    print(header)
    for p0, p1 in SHIFTS:
        oracle = delays("oracle CUSUM", p0, p1, args.runs, rng, False)
        om, o90 = statistics.median(oracle), np.percentile(oracle, 90)
        rows = [("oracle CUSUM", oracle)] + [(n, delays(n, p0, p1, args.runs, rng, False)) for n in names[1:]]
        rows.append(("rate_shift, warm-up 5k", delays("rate_shift", p0, p1, args.runs, rng, True)))
        if abs(p1 - p0) > ZONE:  # the cost of the indifference zone used on the wobble streams
            rows.append(
                (f"rate_shift, zone {ZONE:.2f}", delays("rate_shift", p0, p1, args.runs, rng, False, ZONE))
            )
        for name, values in rows:
            med, p90 = statistics.median(values), float(np.percentile(values, 90))
            print(f"  {p0}->{p1:<6} {name:22} {med:8.0f} {p90:8.0f} {med / om:9.2f} {p90 / o90:7.2f}")
    print(
        f"\nalarms on no-regression streams of {args.length:,} observations (zone {ZONE:.2f} for rate_shift)"
    )
    for bursts in (False, True):
        xs, weights = wobble_stream(args.length, rng, bursts)
        label = "wobble+bursts" if bursts else "wobble"
        cells = []
        for name in names:
            detector = (
                make(name, 0.95, None)
                if name != "rate_shift"
                else RateShiftDetector(0.95, "down", ARL0, zone=ZONE)
            )
            cells.append(f"{name}: {sum(1 for _ in feed(detector, xs, weights))}")
        plain = RateShiftDetector(0.95, "down", ARL0, zone=ZONE)
        cells.append(f"rate_shift unweighted: {sum(1 for _ in feed(plain, xs))}")
        print(f"  {label:14} " + "  ".join(cells))
    print("\nobservations per second, one core")
    for name in names:
        print(f"  {name:22} {throughput(lambda n=name: make(n, 0.95, 0.85)):12,.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--length", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--quick", action="store_true", help="runs=40, length=200k")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.runs, arguments.length = 40, 200_000
    main(arguments)
