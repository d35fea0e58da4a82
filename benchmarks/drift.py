"""Detector benchmark: false alarms and detection delay against the oracle, on realistic null traffic.

The rate-shift detector runs configured exactly as the detector bank configures it at the default
settings for the pooled refusal stream (ARL0 = ``detection.arl0`` over its budget share, the default
zone, guard and warm-up), with a known and with a learnt baseline, next to the configuration before the
rewrite (ARL0 1e6 per stream, 5 % relative zone, 95 % guard, warm-up 2,000) and the oracle: the Bernoulli
CUSUM that knows the true post-change rate, at the same per-stream ARL0.

Traffic at a baseline refusal rate of 0.84 comes in four kinds: independent; a slow daily wobble of
±2 points (a sinusoid with a period of 50,000 observations); correlated sessions (users arrive and
each sends a burst of different prompts, 98 % of bursts geometric with mean 15 and 2 % with mean
265, so 20 on average; each user has a refusal propensity drawn from a Beta with mean 0.84 and
concentration 20, i.e. 8 points of spread); and wobble with sessions. Session traffic runs without
dedup weights and with the user-keyed ``1/c`` weights: the count window (``DuplicateWeigher``,
1,000 observations) and the time window (``BurstWeigher``, 60 s at 10 samples a second).

Long null streams are replayed in numpy: the replay takes the armed detector's own grid and
threshold, learns baselines with the real detector, and is checked against the real detector's
``update`` (alarm indices identical) at the start of every run. Nothing is tuned per scenario.

    python benchmarks/drift.py [--seeds 20] [--length 1000000] [--runs 200] [--quick]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from detectors import (
    AdwinDetector,
    Baseline,
    BernoulliCusum,
    BurstWeigher,
    DuplicateWeigher,
    RateShiftDetector,
    rate_detector,
    two_proportion_z,
)
from monitor.detection import BUDGET_SHARES
from monitor.settings import DetectionSettings

P0 = 0.84
DROPS = (0.76, 0.69)
SHIFTS = ((0.95, 0.85), (0.95, 0.90), (0.95, 0.60), (0.03, 0.10), (P0, 0.76), (P0, 0.69))
WOBBLE, PERIOD = 0.02, 50_000
LIGHT_MEAN, HEAVY_MEAN, HEAVY_SHARE = 15, 265, 0.02  # burst sizes: 20 on average
CONCENTRATION = 20.0  # Beta(20 * 0.84, 20 * 0.16): a user's propensity spreads by about 8 points
USER_GAP = 4.0  # mean observations between two requests of one user: about 4 users active at once
BURN = 20_000  # sessions start before the stream does, so it opens in steady state
COUNT_WINDOW, SECONDS, SAMPLES_PER_SECOND = 1000, 60.0, 10.0
POST = 100_000  # observations after a change before a run counts as missed
CHUNK = 4096

_DEFAULTS = DetectionSettings()
BANK_ARL0 = _DEFAULTS.arl0
SHARE = BUDGET_SHARES["pooled_refusal"]  # the simulated stream is the pooled refusal stream
STREAM_ARL0 = BANK_ARL0 / SHARE
DEFAULT = {
    "arl0": STREAM_ARL0,
    "zone": _DEFAULTS.zone,
    "relative_zone": _DEFAULTS.relative_zone,
    "guard": _DEFAULTS.guard,
    "warmup": _DEFAULTS.warmup,
    "window": _DEFAULTS.window,
}
OLD = {"arl0": 1e6, "zone": 0.0, "relative_zone": 0.05, "guard": 0.95, "warmup": 2000}


class Config(NamedTuple):
    """One rate-shift configuration; ``learnt`` learns the baseline in warm-up."""

    label: str
    options: dict[str, Any]
    learnt: bool


ZONES = sorted({float(DEFAULT["zone"]), 0.0, 0.02, 0.03})  # the default (marked *) and its neighbours
CONFIGS = (
    *(
        Config(f"zone {z:g}{'*' if z == DEFAULT['zone'] else ''}, {kind}", {**DEFAULT, "zone": z}, learnt)
        for z in ZONES
        for kind, learnt in (("known", False), (f"learnt {_DEFAULTS.warmup}", True))
    ),
    Config("old, known", OLD, learnt=False),
    Config("old, learnt 2000", OLD, learnt=True),
)
ORACLE_ARL0S = (STREAM_ARL0, 1e6)


class Scenario(NamedTuple):
    """Null traffic: wobble or not, sessions or not, and which dedup weights the detectors get."""

    label: str
    wobble: bool
    sessions: bool
    weights: str  # "none", "count" or "time"


SCENARIOS = (
    Scenario("iid", wobble=False, sessions=False, weights="none"),
    Scenario("wobble", wobble=True, sessions=False, weights="none"),
    Scenario("sessions", wobble=False, sessions=True, weights="none"),
    Scenario("sessions, dedup 1000 obs", wobble=False, sessions=True, weights="count"),
    Scenario("sessions, dedup 60 s", wobble=False, sessions=True, weights="time"),
    Scenario("wobble+sessions", wobble=True, sessions=True, weights="none"),
    Scenario("wobble+sessions, dedup 1000 obs", wobble=True, sessions=True, weights="count"),
    Scenario("wobble+sessions, dedup 60 s", wobble=True, sessions=True, weights="time"),
)


# --- traffic --------------------------------------------------------------------------------------


class Users(NamedTuple):
    """Per observation: who sent it, that user's propensity offset, and when (in mean spacings)."""

    user: np.ndarray
    offset: np.ndarray
    t: np.ndarray


def sessions(length: int, rng: np.random.Generator, p0: float) -> Users:
    """Users arrive at random; each sends a burst of requests, interleaved with the others'."""
    n_users = int(rng.poisson((1.5 * length + BURN) / (0.98 * LIGHT_MEAN + HEAVY_SHARE * HEAVY_MEAN)))
    begin = rng.uniform(-BURN, 1.5 * length, n_users)
    heavy = rng.random(n_users) < HEAVY_SHARE
    sizes = np.where(heavy, rng.geometric(1 / HEAVY_MEAN, n_users), rng.geometric(1 / LIGHT_MEAN, n_users))
    user = np.repeat(np.arange(n_users), sizes)
    steps = rng.exponential(USER_GAP, user.size)
    total, first = np.cumsum(steps), np.cumsum(sizes) - sizes
    t = begin[user] + total - np.repeat(total[first] - steps[first], sizes)
    keep = t >= 0
    t, user = t[keep], user[keep]
    order = np.argsort(t, kind="stable")[:length]
    assert order.size == length, "not enough session traffic generated"
    propensity = rng.beta(CONCENTRATION * p0, CONCENTRATION * (1 - p0), n_users) - p0
    return Users(user[order], propensity[user[order]], t[order])


def count_weights(user: np.ndarray, window: int = COUNT_WINDOW) -> np.ndarray:
    """``DuplicateWeigher(window)`` keyed by user: ``1/c`` within a burst that a gap of ``window`` ends."""
    order = np.argsort(user, kind="stable")
    u = user[order]
    new = np.ones(u.size, dtype=bool)
    new[1:] = (u[1:] != u[:-1]) | (np.diff(order) >= window)
    index = np.arange(u.size)
    count = index - np.maximum.accumulate(np.where(new, index, 0)) + 1
    weights = np.empty(u.size)
    weights[order] = 1.0 / count
    return weights


def time_weights(users: Users, seconds: float = SECONDS, rate: float = SAMPLES_PER_SECOND) -> np.ndarray:
    """``BurstWeigher(seconds)`` keyed by user: ``1/c`` for the c-th request in the last ``seconds``."""
    order = np.argsort(users.user, kind="stable")
    span = float(users.t.max()) / rate + 10 * seconds
    key = users.user[order] * span + users.t[order] / rate
    count = np.arange(key.size) - np.searchsorted(key, key - seconds, side="right") + 1
    weights = np.empty(key.size)
    weights[order] = 1.0 / np.minimum(count, 1001)  # the weigher keeps the latest 1,000 times
    return weights


def rates(length: int, rng: np.random.Generator, p0: float, wobble: bool) -> np.ndarray:
    """The model's true rate at each observation: the baseline, or the baseline with a daily wobble."""
    if not wobble:
        return np.full(length, p0)
    phase = rng.uniform(0, 2 * math.pi)
    return p0 + WOBBLE * np.sin(2 * math.pi * np.arange(length) / PERIOD + phase)


class Stream(NamedTuple):
    """Outcomes (refused or not) and the dedup weight each carries."""

    x: np.ndarray
    w: np.ndarray


def traffic(
    scenario: Scenario, length: int, rng: np.random.Generator, change: int | None, p1: float
) -> Stream:
    """A stream of ``scenario`` traffic; from ``change`` on, every user's rate drops by ``P0 - p1``."""
    r = rates(length, rng, P0, scenario.wobble)
    if change is not None:
        r[change:] += p1 - P0
    if not scenario.sessions:
        return Stream((rng.random(length) < r).astype(float), np.ones(length))
    users = sessions(length, rng, P0)
    p = np.clip(r + users.offset, 0.0, 1.0)
    x = (rng.random(length) < p).astype(float)
    weigh = {"none": lambda: np.ones(length), "count": lambda: count_weights(users.user)}
    weigh["time"] = lambda: time_weights(users)
    return Stream(x, weigh[scenario.weights]())


# --- the replay: the detector's update, in numpy ---------------------------------------------------


class Armed(NamedTuple):
    """An armed detector's CUSUM bank: increments ``w * (a * y + b * (1 - y))`` against ``h``."""

    a: np.ndarray
    b: np.ndarray
    h: float
    q0: float
    flip: bool  # the detector watches 1 - x
    holds: bool  # the alarm holds until recovery (rate_shift); else the CUSUM restarts (oracle)


def armed(detector: RateShiftDetector) -> Armed:
    # The replay reads the armed detector's own grid and threshold, so it cannot drift from it.
    d = detector
    return Armed(np.array(d._a), np.array(d._b), d._h, d._q0, d._flip, holds=True)


def oracle(p0: float, p1: float, arl0: float) -> Armed:
    c = BernoulliCusum(p0, p1, arl0)
    return Armed(np.array([c._a]), np.array([c._b]), c._h, p0, flip=False, holds=False)


def _lindley(z: np.ndarray, s0: np.ndarray) -> np.ndarray:
    """``s = max(0, s + z)`` along each row, from ``s0``, without a Python loop."""
    c = np.cumsum(z, axis=1)
    return c - np.minimum(np.minimum.accumulate(c, axis=1), -s0[:, None])


class Replay:
    """Alarm starts of an armed detector over a stream, as its ``update`` would raise them."""

    def __init__(self, arm: Armed, stream: Stream) -> None:
        self.arm = arm
        self.y = 1.0 - stream.x if arm.flip else stream.x
        self.w = stream.w if arm.holds else np.ones(stream.x.size)  # the oracle ignores weights
        self.cw = np.concatenate([[0.0], np.cumsum(self.w)])
        self.cb = np.concatenate([[0.0], np.cumsum(self.w * self.y)])

    def alarms(self, begin: int, until: int | None = None) -> Iterator[int]:
        """Indices where an alarm starts, from ``begin`` (the first observation after arming)."""
        arm, n, k = self.arm, self.y.size, self.arm.a.size
        i, s, start = begin, np.zeros(k), np.full(k, begin - 1)
        while i < n:
            j = min(n, i + CHUNK)
            y, w = self.y[i:j], self.w[i:j]
            big = _lindley(w * (arm.a[:, None] * y + arm.b[:, None] * (1.0 - y)), s)
            hit = np.flatnonzero((big >= arm.h).any(axis=0))
            if hit.size == 0:
                zero = big <= 0.0
                last = zero.shape[1] - 1 - np.argmax(zero[:, ::-1], axis=1)
                start = np.where(zero.any(axis=1), i + last, start)
                s, i = big[:, -1], j
                continue
            col = int(hit[0])
            yield i + col
            if until is not None and i + col >= until:
                return
            s = np.zeros(k)
            if not arm.holds:
                i = i + col + 1
                continue
            leader = int(np.argmax(big[:, col]))
            resets = np.flatnonzero(big[leader, : col + 1] <= 0.0)
            i = self._recover(int(i + resets[-1]) if resets.size else int(start[leader]), i + col)
            start[:] = i - 1

    def _recover(self, start: int, at: int) -> int:
        """The index after the observation at which the reverse CUSUM clears the alarm."""
        arm, cw, cb = self.arm, self.cw, self.cb
        rate = (cb[at + 1] - cb[start + 1]) / max(cw[at + 1] - cw[start + 1], 1e-9)
        q = min(max(rate, arm.q0 * 1.25), 1 - 1e-9)
        ra, rb = math.log(arm.q0 / q), math.log((1 - arm.q0) / (1 - q))
        i, r, n = at + 1, np.zeros(1), self.y.size
        while i < n:
            j = min(n, i + CHUNK)
            y, w = self.y[i:j], self.w[i:j]
            big = _lindley((w * (ra * y + rb * (1.0 - y)))[None, :], r)[0]
            hit = np.flatnonzero(big >= arm.h)
            if hit.size:
                return int(i + hit[0] + 1)
            r, i = big[-1:], j
        return n


def learn(stream: Stream, warmup: float, direction: str) -> tuple[Baseline | None, int]:
    """The baseline a detector learns on ``stream`` with the real warm-up code, and where it arms."""
    detector = rate_detector(None, direction, warmup=warmup)  # type: ignore[arg-type]
    assert isinstance(detector, RateShiftDetector)
    update, n = detector.update, stream.x.size
    for begin in range(0, n, 10_000):
        xs, ws = stream.x[begin : begin + 10_000].tolist(), stream.w[begin : begin + 10_000].tolist()
        for i, (x, w) in enumerate(zip(xs, ws, strict=True)):
            update(x, w)
            if detector.warmed_up:
                return detector._base, begin + i + 1
    return None, n  # never armed: nothing left to replay


def arm_all(stream: Stream, direction: str = "down", p0: float = P0) -> list[tuple[Armed, int]]:
    """Every configuration as the bank builds it, learnt baselines from one warm-up per length.

    The warm-up does not depend on the zone or guard, and arming with the learnt baseline (with its
    count) is what the detector does at the end of its warm-up, so sharing it changes nothing.
    """
    learnt = {w: learn(stream, w, direction) for w in {c.options["warmup"] for c in CONFIGS if c.learnt}}
    out = []
    for config in CONFIGS:
        base, begin = learnt[config.options["warmup"]] if config.learnt else (p0, 0)
        detector = rate_detector(P0 if base is None else base, direction, **config.options)  # type: ignore[arg-type]
        out.append((armed(detector), begin))
    return out


# --- checks ---------------------------------------------------------------------------------------


def feed(detector: Any, stream: Stream, weighted: bool = True) -> Iterator[int]:
    """Indices at which a new alarm starts, feeding the real detector one observation at a time."""
    before, update = False, detector.update
    for i, (x, w) in enumerate(zip(stream.x.tolist(), stream.w.tolist(), strict=True)):
        if weighted:
            update(x, w)
        else:
            update(x)
        now = detector.drift_detected
        if now and not before:
            yield i
        before = now


def check_replay(rng: np.random.Generator, length: int = 60_000) -> str:
    """The replay and the weights match the real detector and weighers on streams with changes."""
    episodes = np.full(length, P0)
    episodes[length // 4 : length // 4 + 3000] = 0.70
    episodes[length // 2 : length // 2 + 8000] = 0.78
    users = sessions(length, rng, P0)
    x = (rng.random(length) < np.clip(episodes + users.offset, 0, 1)).astype(float)
    count, burst = DuplicateWeigher(COUNT_WINDOW), BurstWeigher(SECONDS)
    keys = users.user.tolist()
    assert np.allclose(count_weights(users.user), [count.weight(str(u)) for u in keys])
    times = (users.t / SAMPLES_PER_SECOND).tolist()
    assert np.allclose(
        time_weights(users), [burst.weight(str(u), t) for u, t in zip(keys, times, strict=True)]
    )
    checked = 0
    for w in (np.ones(length), count_weights(users.user)):
        stream = Stream(x, w)
        for config, (arm, begin) in zip(CONFIGS, arm_all(stream), strict=True):
            real = rate_detector(None if config.learnt else P0, "down", **config.options)  # type: ignore[arg-type]
            expected = list(feed(real, stream))
            assert list(Replay(arm, stream).alarms(begin)) == expected, config.label
            checked += len(expected)
        cusum = BernoulliCusum(P0, 0.76, STREAM_ARL0)
        expected = list(feed(cusum, stream, weighted=False))
        assert list(Replay(oracle(P0, 0.76, STREAM_ARL0), stream).alarms(0)) == expected
        checked += len(expected)
    return f"replay check: {checked} alarm starts on {2 * length:,} observations, identical to update()"


# --- null traffic ---------------------------------------------------------------------------------


def null_rows(scenario: Scenario, seeds: int, length: int, rng: np.random.Generator) -> list[str]:
    """False alarms per 1e6 observations for each detector on ``seeds`` streams of ``length``."""
    names = [c.label for c in CONFIGS] + [f"oracle, ARL0 {a:.1e}" for a in ORACLE_ARL0S]
    alarms, hit = dict.fromkeys(names, 0), dict.fromkeys(names, 0)
    for _ in range(seeds):
        stream = traffic(scenario, length, rng, None, P0)
        arms = arm_all(stream) + [(oracle(P0, 0.76, a), 0) for a in ORACLE_ARL0S]
        for name, (arm, begin) in zip(names, arms, strict=True):
            count = sum(1 for _ in Replay(arm, stream).alarms(begin))
            alarms[name] += count
            hit[name] += count > 0
    total = seeds * length / 1e6
    rows = []
    for name in names:
        per = alarms[name] / total
        bank = per / SHARE if not name.startswith("old") else per
        flag = "" if name.startswith(("old", "oracle")) else ("  ok" if bank <= 1 else "  MISS")
        rows.append(
            f"  {scenario.label:32} {name:24} {alarms[name]:7d} {per:9.3f} {bank:9.2f}"
            f" {hit[name]:4d}/{seeds}{flag}"
        )
    return rows


def alerts(detector: Any, stream: Stream) -> tuple[int, int]:
    """(alarms, alarms that reached a paging or notifying band) feeding the real detector.

    An alarm whose change stays inside the ok band at its confidence bound is shown on the status
    page but sends nothing; only alarms that reach ``warning`` or worse reach on-call.
    """
    alarms = sent = 0
    alarmed = reported = False
    update = detector.update
    for x, w in zip(stream.x.tolist(), stream.w.tolist(), strict=True):
        update(x, w)
        if detector.drift_detected:
            if not alarmed:
                alarms, alarmed, reported = alarms + 1, True, False
            if not reported and detector.severity != "ok":
                sent, reported = sent + 1, True
        else:
            alarmed = False
    return alarms, sent


def alert_rows(scenario: Scenario, seeds: int, length: int, rng: np.random.Generator) -> list[str]:
    """Alarms against alerts sent, at the default settings with a known baseline, on null traffic."""
    alarms = sent = 0
    for _ in range(seeds):
        stream = traffic(scenario, length, rng, None, P0)
        a, s = alerts(rate_detector(P0, "down", **DEFAULT), stream)
        alarms, sent = alarms + a, sent + s
    total = seeds * length / 1e6
    bank = sent / total / SHARE
    flag = "  ok" if bank <= 1 else "  MISS"
    return [f"  {scenario.label:32} {alarms:7d} {alarms / total / SHARE:12.2f} {sent:7d} {bank:12.2f}{flag}"]


# --- delays ---------------------------------------------------------------------------------------


class Delays(NamedTuple):
    """Observations from the change to the alarm, runs that missed, runs not armed at the change."""

    values: list[int]
    missed: int
    unarmed: int


def delay_runs(scenario: Scenario, p1: float, runs: int, rng: np.random.Generator) -> dict[str, Delays]:
    """Every detector on the same ``runs`` streams with a change from ``P0`` to ``p1``."""
    names = [c.label for c in CONFIGS] + [f"oracle, ARL0 {a:.1e}" for a in ORACLE_ARL0S]
    out: dict[str, Delays] = {n: Delays([], 0, 0) for n in names}
    for _ in range(runs):
        warm = traffic(scenario, 40_000, rng, None, P0)  # where the slowest warm-up ends
        reach = int(np.searchsorted(np.cumsum(warm.w), 2 * OLD["warmup"]))
        change = reach + 2000 + int(rng.integers(0, 1000))
        stream = traffic(scenario, change + POST, rng, change, p1)
        arms = arm_all(stream) + [(oracle(P0, p1, a), 0) for a in ORACLE_ARL0S]
        for name, (arm, begin) in zip(names, arms, strict=True):
            record = out[name]
            if begin > change:
                out[name] = record._replace(unarmed=record.unarmed + 1)
                continue
            after = [t for t in Replay(arm, stream).alarms(begin, change) if t >= change]
            if after:
                record.values.append(after[0] - change + 1)
            else:
                out[name] = record._replace(missed=record.missed + 1)
                record.values.append(POST)
    return out


def delay_table(
    scenario: str, p0: float, p1: float, results: dict[str, Delays], iid: float | None
) -> list[str]:
    rows = []
    for name, d in results.items():
        ref = results[f"oracle, ARL0 {1e6 if name.startswith('old') else STREAM_ARL0:.1e}"]
        med, p90 = statistics.median(d.values), float(np.percentile(d.values, 90))
        ratio = med / statistics.median(ref.values)
        vs_iid = f"{med / iid:8.2f}" if iid else f"{'':8}"
        note = f"  missed {d.missed}" if d.missed else ""
        note += f"  not armed {d.unarmed}" if d.unarmed else ""
        rows.append(
            f"  {scenario:32} {p0}->{p1:<5} {name:24} {med:8.0f} {p90:8.0f} {ratio:8.2f} {vs_iid}{note}"
        )
    return rows


# --- the classic table: iid streams, every kind of detector ---------------------------------------


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


def classic(p0: float, direction: str) -> dict[str, Callable[[], Any]]:
    return {
        "ADWIN": lambda: AdwinDetector(p0, direction, warmup=1000),  # type: ignore[arg-type]
        "z-test n=1000": lambda: WindowedZTest(p0, direction),
    }


def iid_alarms(p0: float, length: int, rng: np.random.Generator) -> str:
    direction = "down" if p0 > 0.5 else "up"
    p1 = p0 - 0.08 if direction == "down" else p0 + 0.07
    stream = Stream((rng.random(length) < p0).astype(float), np.ones(length))
    cells = [(c.label, a) for c, a in zip(CONFIGS, arm_all(stream, direction, p0), strict=True)]
    cells.append(("oracle", (oracle(p0, p1, STREAM_ARL0), 0)))
    counts = [(n, sum(1 for _ in Replay(a, stream).alarms(b))) for n, (a, b) in cells]
    counts += [(n, sum(1 for _ in feed(f(), stream, False))) for n, f in classic(p0, direction).items()]
    return f"  p0={p0:<5} " + "  ".join(f"{n}: {c * 1e6 / length:5.1f}" for n, c in counts)


def iid_delays(p0: float, p1: float, runs: int, rng: np.random.Generator) -> list[str]:
    direction = "down" if p1 < p0 else "up"
    names = (
        [c.label for c in CONFIGS]
        + [f"oracle, ARL0 {a:.1e}" for a in ORACLE_ARL0S]
        + ["ADWIN", "z-test n=1000"]
    )
    out: dict[str, Delays] = {n: Delays([], 0, 0) for n in names}
    for _ in range(runs):
        change = 4000 + 2000 + int(rng.integers(0, 1000))  # after the slowest warm-up; random phase
        r = np.where(np.arange(change + 60_000) < change, p0, p1)
        stream = Stream((rng.random(r.size) < r).astype(float), np.ones(r.size))
        for config, (arm, begin) in zip(CONFIGS, arm_all(stream, direction, p0), strict=True):
            _record(out, config.label, Replay(arm, stream).alarms(begin, change), change)
        for arl0 in ORACLE_ARL0S:
            _record(
                out,
                f"oracle, ARL0 {arl0:.1e}",
                Replay(oracle(p0, p1, arl0), stream).alarms(0, change),
                change,
            )
        for name, make in classic(p0, direction).items():
            _record(out, name, feed(make(), stream, False), change)
    rows = delay_table("iid", p0, p1, {n: d for n, d in out.items() if n in names[: len(CONFIGS) + 2]}, None)
    oracle_median = statistics.median(out[f"oracle, ARL0 {STREAM_ARL0:.1e}"].values)
    for name in names[len(CONFIGS) + 2 :]:
        d = out[name]
        med, p90 = statistics.median(d.values), float(np.percentile(d.values, 90))
        rows.append(f"  {'iid':32} {p0}->{p1:<5} {name:24} {med:8.0f} {p90:8.0f} {med / oracle_median:8.2f}")
    return rows


def _record(out: dict[str, Delays], name: str, alarms: Iterator[int], change: int) -> None:
    for t in alarms:
        if t >= change:
            out[name].values.append(t - change + 1)
            return
    out[name] = out[name]._replace(missed=out[name].missed + 1)
    out[name].values.append(60_000)


def throughput(make_detector: Callable[[], Any], n: int = 200_000) -> float:
    xs = (np.random.default_rng(0).random(n) < 0.95).astype(float).tolist()
    detector, start = make_detector(), time.perf_counter()
    for x in xs:
        detector.update(x)
    return n / (time.perf_counter() - start)


# --- report ---------------------------------------------------------------------------------------


def main(args: argparse.Namespace) -> Iterator[str]:
    rng = np.random.default_rng(args.seed)
    yield check_replay(rng)
    yield (
        f"* = the bank at default settings: per-stream ARL0 {STREAM_ARL0:.1e} "
        f"({BANK_ARL0:.0e} / its budget share {SHARE:g}), zone {DEFAULT['zone']}, relative zone "
        f"{DEFAULT['relative_zone']}, guard {DEFAULT['guard']}, warm-up {DEFAULT['warmup']}"
    )
    yield "old     = ARL0 1e6 per stream, relative zone 0.05, guard 0.95, warm-up 2000 (before the rewrite)"
    yield (
        f"\nfalse alarms per 1e6 observations on iid streams of {args.length:,} "
        "(oracle: p1 = p0 -+ 0.08/0.07)"
    )
    for p0 in (0.95, P0, 0.03):
        yield iid_alarms(p0, args.length, rng)
    yield f"\ndetection delay on iid streams ({args.runs} runs; x oracle = median / oracle median, same ARL0)"
    yield f"  {'scenario':32} {'shift':11} {'detector':24} {'median':>8} {'p90':>8} {'x oracle':>8}"
    for p0, p1 in SHIFTS:
        yield from iid_delays(p0, p1, args.runs, rng)
    total = args.seeds * args.length
    yield (
        f"\nfalse alarms on null traffic at p0 = {P0}, {args.seeds} seeds x {args.length:,} = {total:,} "
        "observations per row; one warm-up per seed"
    )
    yield (
        f"  bank = per stream / {SHARE:g} (its budget share, as if every stream spent its share alike); "
        "target: bank <= 1 per 1e6 samples; old rows: per stream"
    )
    yield f"  {'scenario':32} {'detector':24} {'alarms':>7} {'per 1e6':>9} {'bank':>9} {'seeds':>6}"
    for scenario in SCENARIOS:
        yield from null_rows(scenario, args.seeds, args.length, rng)
    alert_seeds = max(args.seeds // 4, 1)
    yield (
        f"\nalerts on null traffic at the default settings, known baseline, the real detector: "
        f"{alert_seeds} seeds x {args.length:,} per row. An alarm inside the ok band sends nothing; "
        f"bank = per 1e6 / {SHARE:g}"
    )
    yield f"  {'scenario':32} {'alarms':>7} {'alarms bank':>12} {'alerts':>7} {'alerts bank':>12}"
    for scenario in SCENARIOS:
        yield from alert_rows(scenario, alert_seeds, args.length, rng)
    yield (
        f"\ndetection delay at p0 = {P0} ({args.runs} runs; x oracle: same traffic and ARL0; "
        f"x iid: the iid oracle at ARL0 {STREAM_ARL0:.1e}; missed = no alarm in {POST:,})"
    )
    head = f"  {'scenario':32} {'shift':11} {'detector':24} {'median':>8} {'p90':>8}"
    yield f"{head} {'x oracle':>8} {'x iid':>8}"
    iid: dict[float, float] = {}
    for p1 in DROPS:
        for scenario in SCENARIOS:
            results = delay_runs(scenario, p1, args.runs, rng)
            iid.setdefault(p1, statistics.median(results[f"oracle, ARL0 {STREAM_ARL0:.1e}"].values))
            yield from delay_table(scenario.label, P0, p1, results, iid[p1])
    yield "\nobservations per second, one core (the real update, unweighted)"
    makers = {
        "oracle CUSUM": lambda: BernoulliCusum(0.95, 0.85, STREAM_ARL0),
        "rate_shift default": lambda: rate_detector(0.95, "down", **DEFAULT),
        **classic(0.95, "down"),
    }
    for name, make in makers.items():
        yield f"  {name:24} {throughput(make):12,.0f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20, help="null streams per scenario")
    parser.add_argument("--length", type=int, default=1_000_000, help="observations per null stream")
    parser.add_argument("--runs", type=int, default=200, help="runs per delay row")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--quick", action="store_true", help="seeds=3, length=200k, runs=30")
    parser.add_argument("--out", default=None, help="also write the report to this file")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.seeds, arguments.length, arguments.runs = 3, 200_000, 30
    lines, began = [], time.perf_counter()
    for line in main(arguments):
        print(line, flush=True)
        lines.append(line)
    lines.append(f"\n(run took {time.perf_counter() - began:.0f} s)")
    print(lines[-1])
    if arguments.out:
        with open(arguments.out, "w", encoding="utf-8") as f:  # noqa: PTH123
            f.write("\n".join(lines) + "\n")
