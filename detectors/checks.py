"""Contract checks every detector must pass (after river's ``river/checks``).

Each check takes a zero-argument factory that returns a fresh detector with a known or learnt
baseline, and raises ``AssertionError`` with a reason on failure.
"""

from __future__ import annotations

import copy
import json
import pickle
import random
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "ALL_CHECKS",
    "check_bounded_memory",
    "check_clone_independence",
    "check_no_alarm_before_warmup",
    "check_pickling",
    "check_reset",
    "check_state_round_trip",
]

Factory = Callable[[], Any]


def _stream(seed: int, n: int, p: float = 0.9) -> Iterator[float]:
    rng = random.Random(seed)
    return (float(rng.random() < p) for _ in range(n))


def _trace(detector: Any, xs: Iterator[float]) -> list[tuple[bool, str]]:
    out = []
    for x in xs:
        detector.update(x)
        out.append((detector.drift_detected, detector.severity))
    return out


def check_reset(factory: Factory) -> None:
    """After ``_reset()`` a used detector behaves exactly like a fresh one."""
    used = factory()
    _trace(used, _stream(1, 3000, 0.5))
    used._reset()  # noqa: SLF001 - the contract is about this private method
    assert _trace(used, _stream(2, 3000)) == _trace(factory(), _stream(2, 3000)), "reset left state behind"


def check_clone_independence(factory: Factory) -> None:
    """A deep copy evolves independently of its original."""
    original = factory()
    _trace(original, _stream(3, 1500))
    clone = copy.deepcopy(original)
    _trace(original, _stream(4, 3000, 0.2))
    reference = factory()
    _trace(reference, _stream(3, 1500))
    assert _trace(clone, _stream(5, 2000)) == _trace(reference, _stream(5, 2000)), "clone shares state"


def check_pickling(factory: Factory) -> None:
    """A pickled and restored detector continues identically."""
    detector = factory()
    _trace(detector, _stream(6, 2000))
    restored = pickle.loads(pickle.dumps(detector))  # noqa: S301 - round trip of our own object
    assert _trace(restored, _stream(7, 2000, 0.5)) == _trace(detector, _stream(7, 2000, 0.5)), (
        "pickle differs"
    )


def check_state_round_trip(factory: Factory) -> None:
    """``from_state(json(state_dict()))`` continues identically."""
    detector = factory()
    _trace(detector, _stream(8, 2500, 0.6))
    restored = type(detector).from_state(json.loads(json.dumps(detector.state_dict())))
    assert _trace(restored, _stream(9, 2000, 0.4)) == _trace(detector, _stream(9, 2000, 0.4)), "state differs"


def check_bounded_memory(factory: Factory) -> None:
    """Serialised state does not grow with the number of observations."""
    detector = factory()
    _trace(detector, _stream(10, 5000))
    small = len(pickle.dumps(detector))
    _trace(detector, _stream(11, 50_000))
    assert len(pickle.dumps(detector)) <= 2 * small + 4096, "state grows with the stream"


def check_no_alarm_before_warmup(factory: Factory) -> None:
    """A detector learning its baseline never alarms during warm-up, whatever it sees."""
    detector = factory()
    warmup = int(getattr(detector, "warmup", 0))
    if getattr(detector, "baseline", None) is not None or warmup == 0:
        return
    for i in range(warmup):
        detector.update(float(i % 2) if i < warmup // 2 else 0.0)
        assert not detector.drift_detected, f"alarm during warm-up at {i}"


ALL_CHECKS = (
    check_reset,
    check_clone_independence,
    check_pickling,
    check_state_round_trip,
    check_bounded_memory,
    check_no_alarm_before_warmup,
)
