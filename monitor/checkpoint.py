"""Detector state on disk: written atomically, restored at start, set aside when unreadable."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import structlog

from monitor.detection import DetectorBank

__all__ = ["restore", "save", "write_state"]


def save(bank: DetectorBank, path: Path) -> None:
    """Write the bank's state to ``path`` via a temporary file and an atomic rename."""
    write_state(bank.state_dict(), path)


def write_state(state: dict[str, Any], path: Path) -> None:
    """Write an already-taken snapshot (take it on the event loop; write it in a thread)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state), encoding="utf-8")
    temporary.replace(path)


def restore(bank: DetectorBank, path: Path) -> bool:
    """Load state if ``path`` exists. A corrupt or incompatible file is renamed aside and reported."""
    log = structlog.get_logger("monitor.checkpoint")
    if not path.exists():
        return False
    try:
        bank.load_state(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        path.replace(aside)
        # The reason is in `error`; a traceback of a bad file would only be noise.
        log.warning("checkpoint_unreadable", path=str(path), moved_to=str(aside), error=str(exc))
        return False
    log.info("checkpoint_restored", path=str(path), detectors=len(bank.detectors))
    return True
