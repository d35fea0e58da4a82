"""Sinks: where processed samples go (JSONL by default; Kafka later)."""

from __future__ import annotations

from monitor.sinks.base import Sink
from monitor.sinks.jsonl import JsonlSink, sample_record
from monitor.sinks.memory import MemorySink

__all__ = ["JsonlSink", "MemorySink", "Sink", "sample_record"]
