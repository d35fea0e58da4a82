# ruff: noqa: INP001 - a script beside the chart, not a package
"""``python helm/gen_values_table.py [--check]``: the chart README's values table, from ``values.yaml``.

A key is documented by a ``# -- text`` comment right above it (further ``# `` lines continue the
text). A documented key whose children carry no comments of their own is one row, its whole value
the default. Every key needs a comment of its own, of an ancestor or of a descendant.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CHART", "UndocumentedKeyError", "main", "render_readme", "table"]

CHART = Path(__file__).resolve().parent / "llm-safety-monitor"
START = "<!-- values-table:start (python helm/gen_values_table.py) -->"
END = "<!-- values-table:end -->"
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w.-]*):(?:\s|$)")
_DOC_START = re.compile(r"^ *# -- ?(?P<text>.*)$")
_DOC_MORE = re.compile(r"^ *# ?(?P<text>.*)$")


class UndocumentedKeyError(ValueError):
    """A key in ``values.yaml`` that no ``# --`` comment covers."""


def _scan(lines: list[str]) -> tuple[list[str], dict[str, str]]:
    """Every key path in file order, and the documentation of those that have a comment."""
    paths: list[str] = []
    docs: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    for line in lines:
        if start := _DOC_START.match(line):
            pending = [start["text"]]
        elif pending is not None and (more := _DOC_MORE.match(line)):
            pending.append(more["text"])
        elif key := _KEY.match(line):
            indent = len(key["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, key["key"]))
            path = ".".join(name for _, name in stack)
            paths.append(path)
            if pending is not None:
                docs[path] = " ".join(pending).strip()
            pending = None
        else:
            pending = None
    return paths, docs


def _related(path: str, other: str) -> bool:
    return other == path or other.startswith(path + ".") or path.startswith(other + ".")


def _lookup(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        node = node[part]
    return node


def _type(value: Any) -> str:
    names = {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "object"}
    return names.get(type(value), "null")


def table(values_text: str) -> str:
    """The Markdown values table for ``values.yaml`` text."""
    paths, docs = _scan(values_text.splitlines())
    for path in paths:
        if not any(_related(path, documented) for documented in docs):
            msg = f"values.yaml: key {path} has no '# --' comment"
            raise UndocumentedKeyError(msg)
    values = yaml.safe_load(values_text)
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for path, text in docs.items():
        value = _lookup(values, path)
        default = json.dumps(value, separators=(", ", ": ")).replace("|", "\\|")
        if any(other.startswith(path + ".") for other in docs):
            default = "(below)"  # its documented children show the defaults
        description = text.replace("|", "\\|")
        shown = default if default == "(below)" else f"`{default}`"
        rows.append(f"| `{path}` | {_type(value)} | {shown} | {description} |")
    return "\n".join(rows) + "\n"


def render_readme(readme: str, values_text: str) -> str:
    """``readme`` with the text between the table markers replaced by a fresh table."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    if not rest:
        msg = f"README.md has no {START} marker"
        raise ValueError(msg)
    return f"{head}{START}\n{table(values_text)}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Write the table into the chart README, or with ``--check`` fail if it is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if README.md is out of date")
    args = parser.parse_args(argv)
    readme_path = CHART / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    fresh = render_readme(readme, (CHART / "values.yaml").read_text(encoding="utf-8"))
    if fresh == readme:
        return 0
    if args.check:
        sys.stderr.write(f"out of date (run python helm/gen_values_table.py): {readme_path}\n")
        return 1
    readme_path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
