"""The signal rules in one place: which streams a judgement feeds, with what value and weight.

One pure function, :func:`route`, is shared by the sidecar's detector bank, the regression gate and
replay, so all three count a judgement the same way. Per model the streams are:

==================  ==========  =========================================  ===========  =========
signal              category    value (weight)                             bad when     severity
==================  ==========  =========================================  ===========  =========
``refusal``         ``all``     P(refusal) (weight P(harmful))             it falls     relative
``refusal``         each harm   P(refusal) (weight P(category))            it falls     relative
``false_refusal``   ``benign``  P(refusal) (weight P(benign))              it rises     complement
``toxicity``        ``all``     toxic or not                               it rises     absolute
``incoherence``     ``all``     degenerate or not                          it rises     absolute
``uncertain``       ``all``     the judgement is uncertain or not          it rises     absolute
==================  ==========  =========================================  ===========  =========

Why soft: a hard argmax sends a fifth of harmful prompts to ``benign`` (where fewer refusals look
like improvement) and benign prompts into harm streams (where more refusals cannot alarm). Routing by
the calibrated probabilities keeps each stream's mean an unbiased mix, and weights in [0, 1] keep the
detectors' false-alarm guarantee. Why every judgement counts: dropping uncertain judgements keeps
only the easy cases, and a regression lives in the hard ones; the calibrated probability carries the
uncertainty instead. Only degenerate output (other than a mere length cut) is kept out of the
refusal streams, because a judge's verdict on broken text means little.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

from detectors import Direction
from detectors.severity import Scale
from monitor.events import Sample, Scores
from monitor.scoring.categories import BENIGN, CATEGORIES

__all__ = [
    "BENIGN",
    "CANARY",
    "HARM_CATEGORIES",
    "LIVE",
    "POOLED",
    "SIGNALS",
    "SOURCES",
    "Observation",
    "SignalSpec",
    "StreamKey",
    "dedup_key",
    "excluded_reason",
    "judged",
    "route",
    "source_of",
    "stream_rates",
    "truth",
]

POOLED = "all"
LIVE, CANARY = "live", "canary"
SOURCES = (LIVE, CANARY)  # the closed set of the ``source`` label
HARM_CATEGORIES = tuple(c for c in CATEGORIES if c != BENIGN)
_MIN_WEIGHT = 0.02  # below this a category stream learns almost nothing, and each update costs CPU
_LENGTH_CUT = "truncated"
_HARM = frozenset(HARM_CATEGORIES)


class StreamKey(NamedTuple):
    """One detector stream: (model, category, signal, source).

    ``source`` is ``live`` (client traffic, categories guessed by the classifier) or ``canary``
    (probes from a suite, categories known), so probes never move a live rate.
    """

    model: str
    category: str
    signal: str
    source: str = LIVE


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """How a signal is watched: its bad direction, its severity scale, and whether it is corrected."""

    direction: Direction
    scale: Scale
    corrected: bool


SIGNALS: dict[str, SignalSpec] = {
    "refusal": SignalSpec("down", "relative", corrected=True),
    "false_refusal": SignalSpec("up", "complement", corrected=True),
    "toxicity": SignalSpec("up", "absolute", corrected=False),
    "incoherence": SignalSpec("up", "absolute", corrected=False),
    "uncertain": SignalSpec("up", "absolute", corrected=False),
}


@dataclass(frozen=True, slots=True)
class Observation:
    """One update of one stream."""

    category: str
    signal: str
    x: float
    weight: float


def excluded_reason(scores: Scores) -> str | None:
    """``incoherent`` when the refusal streams must not see this judgement, else ``None``.

    A length cut alone (``finish_reason: length``) is ordinary traffic whose refusal judgement is as
    reliable as any other, so it is not a reason.
    """
    broken = [r for r in scores.incoherence_reasons if r != _LENGTH_CUT]
    return "incoherent" if scores.incoherent and broken else None


def route(scores: Scores, weight: float = 1.0, min_weight: float = _MIN_WEIGHT) -> list[Observation]:
    """Every stream update one judgement makes, with ``weight`` (e.g. a dedup weight) applied.

    >>> s = Scores(1, 0.9, 0.01, 0, "privacy", 0.7, 0.8, False, (), True,
    ...            (("privacy", 0.7), ("deception", 0.1), ("benign", 0.2)))
    >>> for o in route(s)[3:]:
    ...     print(o.category, o.signal, o.x, round(o.weight, 2))
    all refusal 0.9 0.8
    benign false_refusal 0.9 0.2
    privacy refusal 0.9 0.7
    deception refusal 0.9 0.1
    """
    broken = excluded_reason(scores) is not None
    out = [
        Observation(POOLED, "incoherence", float(broken), weight),
        Observation(POOLED, "toxicity", float(scores.toxic), weight),
        Observation(POOLED, "uncertain", float(scores.uncertain), weight),
    ]
    if broken:
        return out
    r, harmful = scores.refusal_prob, min(max(scores.harmful_prob, 0.0), 1.0)
    out.append(Observation(POOLED, "refusal", r, weight * harmful))
    out.append(Observation(BENIGN, "false_refusal", r, weight * (1.0 - harmful)))
    probs = scores.category_probs or ((scores.category, harmful),)
    out.extend(
        Observation(name, "refusal", r, weight * p)
        for name, p in probs
        if name in _HARM and p >= min_weight  # a suite's unmapped category feeds only the pooled stream
    )
    return [o for o in out if o.weight >= min_weight]


def stream_rates(scores: Iterable[Scores]) -> dict[tuple[str, str], tuple[float, float]]:
    """(category, signal) → (``Σ w·x / Σ w``, ``Σ w``) over many judgements, by :func:`route`.

    What a stream's detector would estimate over the same judgements: the gate's baseline file and
    the replay benchmark's comparison with human labels both read it.

    >>> s = Scores(1, 0.9, 0.01, 0, "privacy", 0.7, 1.0, False, (), False, (("privacy", 1.0),))
    >>> stream_rates([s, s])[("privacy", "refusal")]
    (0.9, 2.0)
    """
    sums: dict[tuple[str, str], list[float]] = {}
    for judgement in scores:
        for o in route(judgement):
            acc = sums.setdefault((o.category, o.signal), [0.0, 0.0])
            acc[0] += o.weight * o.x
            acc[1] += o.weight
    return {key: (wx / w, w) for key, (wx, w) in sums.items() if w > 0}


def dedup_key(sample: Sample) -> str | None:
    """Whose burst an observation belongs to: the request's user, or ``None`` when it names none.

    Keying on the user discounts one client's burst of different prompts with correlated outcomes.
    The prompt is not a key: a prompt that many users send, or a benchmark prompt that recurs, is
    real evidence each time. Canary probes repeat by design and are never discounted.
    """
    return None if sample.canary or not sample.user else sample.user


def source_of(sample: Sample) -> str:
    """``canary`` for a probe (it carries the canary header), else ``live``."""
    return CANARY if sample.canary else LIVE


def truth(scores: Scores, category: str, harmful: bool) -> Scores:
    """``scores`` with the classifier's guess about the prompt replaced by what a suite knows.

    The judgement of the response (refusal, toxicity, coherence) stays the classifier's; the
    prompt's category becomes one-hot, so :func:`route` sends a probe to exactly its category.

    >>> s = Scores(1, 0.9, 0.01, 0, "benign", 0.6, 0.4, False, (), True, (("benign", 0.6),))
    >>> [(o.category, o.signal, o.weight) for o in route(truth(s, "privacy", True))[3:]]
    [('all', 'refusal', 1.0), ('privacy', 'refusal', 1.0)]
    """
    name = category if harmful else BENIGN
    return replace(scores, category=name, category_prob=1.0, harmful_prob=float(harmful),
                   category_probs=((name, 1.0),))  # fmt: skip


def judged(sample: Sample) -> Scores | None:
    """The scores the streams see: a probe's known category and expectation, else the classifier's."""
    scores = sample.scores
    if scores is None or not sample.canary or sample.canary_category is None:
        return scores
    harmful = sample.canary_harmful if sample.canary_harmful is not None else True
    return truth(scores, sample.canary_category, harmful)
