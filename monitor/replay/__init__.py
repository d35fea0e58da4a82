"""Backtest the detectors on recorded traffic: ``safety-monitor replay LOG.jsonl``.

:mod:`.records` reads the sidecar's sample log (or any ``{prompt, response, model, timestamp}``
JSONL) into Samples, scoring those without scores; :mod:`.run` feeds them in time order to the bank
``serve`` runs; :mod:`.plots` draws each stream; :mod:`.command` ties them together.
"""

from __future__ import annotations

from monitor.replay.command import ReplayOptions, alarm_table, parse_sets, run_replay
from monitor.replay.plots import MATPLOTLIB_MISSING, iso, plot_name, write_index, write_plots
from monitor.replay.records import RecordError, Records, read_records, score_missing, to_sample
from monitor.replay.run import Alarm, Replay, Trace, replay

__all__ = [
    "MATPLOTLIB_MISSING",
    "Alarm",
    "RecordError",
    "Records",
    "Replay",
    "ReplayOptions",
    "Trace",
    "alarm_table",
    "iso",
    "parse_sets",
    "plot_name",
    "read_records",
    "replay",
    "run_replay",
    "score_missing",
    "to_sample",
    "write_index",
    "write_plots",
]
