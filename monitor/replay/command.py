"""``safety-monitor replay``: a recorded log through the bank ``serve`` runs, with a table and plots."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

from monitor.detection import bank_from_settings
from monitor.errors import ConfigError
from monitor.replay.plots import MATPLOTLIB_MISSING, iso, write_index, write_plots
from monitor.replay.records import read_records, score_missing
from monitor.replay.run import Alarm, Replay, replay
from monitor.scoring.scorer import MODEL_DIR, Scorer
from monitor.settings import load_settings

__all__ = ["ReplayOptions", "alarm_table", "parse_sets", "run_replay"]


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """What to replay and how: the log, an optional baseline file and settings, and the output folder."""

    log: Path
    out: Path | None = None
    baseline: Path | None = None
    config: Path | None = None
    sets: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = True
    skip_bad: bool = False


def parse_sets(pairs: Sequence[str]) -> dict[str, Any]:
    """``["detection.arl0=1e4"]`` → ``{"detection.arl0": 10000.0}``; values are YAML scalars."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError("--set", pair, "expected key=value, e.g. detection.arl0=1e4")
        value = yaml.safe_load(raw) if raw else raw
        out[key.strip()] = float(value) if isinstance(value, str) and _number(value) else value
    return out


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def alarm_table(alarms: Sequence[Alarm]) -> str:
    """The alarms as a fixed-width table: when, where, severity and change start."""
    head = (
        "when",
        "model",
        "category",
        "signal",
        "source",
        "severity",
        "change_start",
        "estimate",
        "baseline",
    )
    rows = [head] + [
        (iso(a.time), *a.key, f"{a.previous}->{a.severity}",
         f"{iso(a.change_time)} (#{a.change_start})" if a.change_start is not None else "-",
         f"{a.estimate:.3f}", "-" if a.baseline is None else f"{a.baseline:.3f}")
        for a in alarms
    ]  # fmt: skip
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def run_replay(options: ReplayOptions, out: TextIO | None = None, err: TextIO | None = None) -> Replay:
    """Read, score what lacks scores, detect, print the table, and write plots and ``index.html``."""
    out, err = out or sys.stdout, err or sys.stderr
    sets = dict(options.sets)
    if options.baseline is not None:
        sets["detection.baseline_file"] = str(options.baseline)
    settings = load_settings(options.config, overrides=sets)
    model_dir = settings.scoring.model_dir or MODEL_DIR
    try:
        with options.log.open(encoding="utf-8") as lines:
            records = read_records(lines, options.skip_bad)
    except OSError as exc:
        raise ConfigError("LOG", str(options.log), exc.strerror or "cannot be read") from exc
    missing = sum(s.scores is None for s in records.samples)
    if missing:
        with tqdm(total=missing, desc="scoring", unit="rec", disable=not options.progress, file=err) as bar:
            score_missing(records, Scorer(model_dir), bar)
    samples = [s for s in records.samples if s.scores is not None]
    bank = bank_from_settings(settings, model_dir)
    with tqdm(
        total=len(samples), desc="detecting", unit="rec", disable=not options.progress, file=err
    ) as bar:
        result = replay(samples, bank, len(samples), progress=bar)
    print(alarm_table(result.alarms) if result.alarms else "no alarms", file=out)
    print(f"{len(samples):,} samples replayed, {records.unscorable} without scores or text, "
          f"{records.skipped} bad lines skipped", file=err)  # fmt: skip
    if options.out is not None:
        _write(result, options, err)
    return result


def _write(result: Replay, options: ReplayOptions, err: TextIO) -> None:
    assert options.out is not None  # noqa: S101 - only called with an output folder
    options.out.mkdir(parents=True, exist_ok=True)
    plots = write_plots(result, options.out)
    if plots is None:
        print(f"safety-monitor replay: {MATPLOTLIB_MISSING}", file=err)
    alarms = [a.to_dict() for a in result.alarms]
    (options.out / "alarms.json").write_text(json.dumps(alarms, indent=2) + "\n", encoding="utf-8")
    index = write_index(result, plots, options.out, f"Replay of {options.log.name}")
    print(f"wrote {index}", file=err)
