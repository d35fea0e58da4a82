"""Dashboards, recording rules, alert rules and their promtool tests, generated from one source.

``python -m dashboards.build`` writes ``dashboards/out/`` and ``docs/metrics.md``; edit the
``dashboards/*.py`` sources, never the output.
"""

from __future__ import annotations

__all__: list[str] = []
