# ruff: noqa: INP001 - a script beside the chart, not a package
"""``python helm/copy_generated.py [--check]``: copy the generated rules and dashboards into the chart.

Helm packages only files inside the chart, and ``.Files.Get`` reads nothing outside it, so the chart
keeps byte-for-byte copies of ``dashboards/out/rules.yaml`` and ``dashboards/out/*.json`` in
``files/`` (copies, not symlinks, so that ``helm package`` carries them). Run it after
``python -m dashboards.build``; the test suite fails while a copy is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["CHART_FILES", "GENERATED", "main", "stale", "wanted"]

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "dashboards" / "out"
CHART_FILES = ROOT / "helm" / "llm-safety-monitor" / "files"


def wanted() -> dict[Path, bytes]:
    """Each chart file and the bytes it must hold."""
    copies = {CHART_FILES / "rules.yaml": (GENERATED / "rules.yaml").read_bytes()}
    for board in sorted(GENERATED.glob("*.json")):
        copies[CHART_FILES / "dashboards" / board.name] = board.read_bytes()
    return copies


def stale() -> list[Path]:
    """Chart files that differ from their source, are missing, or have no source any more."""
    copies = wanted()
    differ = [path for path, data in copies.items() if not path.is_file() or path.read_bytes() != data]
    leftover = [path for path in (CHART_FILES / "dashboards").glob("*.json") if path not in copies]
    return sorted(differ + leftover)


def main(argv: list[str] | None = None) -> int:
    """Refresh the copies, or with ``--check`` fail if any is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a copy is out of date")
    args = parser.parse_args(argv)
    outdated = stale()
    if args.check:
        if outdated:
            names = ", ".join(str(path.relative_to(ROOT)) for path in outdated)
            sys.stderr.write(f"out of date (run python helm/copy_generated.py): {names}\n")
        return 1 if outdated else 0
    copies = wanted()
    for path in outdated:
        if path in copies:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(copies[path])
        else:
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
