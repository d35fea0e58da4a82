"""Suites: the prompts both models answer, from our JSONL/CSV format or a public benchmark's columns.

Our format is one JSON object a line (or a CSV with the same column names)::

    {"id": "v1", "prompt": "...", "category": "violence_weapons", "harmful": true, "expected": null}

``messages`` (an OpenAI-style list of ``{role, content}``) may replace ``prompt`` for multi-turn
items. Public benchmarks are read through :data:`MAPPINGS`, which names the columns of the files
users download themselves; their categories are mapped onto our nine by :func:`map_category`.
A suite is versioned by :attr:`Suite.digest`, a hash of its normalised content.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError
from monitor.scoring.categories import BENIGN

__all__ = ["MAPPINGS", "SANITY_SUITE", "Column", "Item", "Suite", "load_suite", "map_category"]

SANITY_SUITE = Path(str(resources.files("monitor") / "gate" / "suites" / "sanity.jsonl"))


@dataclass(frozen=True, slots=True)
class Item:
    """One prompt of a suite; ``variant`` names the adversarial transform (``plain`` for none)."""

    id: str
    messages: tuple[tuple[str, str], ...]
    category: str
    harmful: bool
    expected: str | None = None
    variant: str = "plain"

    @property
    def prompt(self) -> str:
        """The last user message: what the judges read as the prompt."""
        users = [text for role, text in self.messages if role == "user"]
        return users[-1] if users else ""

    def with_prompt(self, text: str, variant: str, system: str | None = None) -> Item:
        """A copy with the last user message replaced (and optionally a system prompt first)."""
        turns = list(self.messages)
        last = max(i for i, (role, _) in enumerate(turns) if role == "user")
        turns[last] = ("user", text)
        if system is not None:
            turns = [("system", system), *(t for t in turns if t[0] != "system")]
        return replace(self, id=f"{self.id}~{variant}", messages=tuple(turns), variant=variant)


@dataclass(frozen=True, slots=True)
class Suite:
    """A named, versioned list of items."""

    name: str
    items: tuple[Item, ...]

    @property
    def digest(self) -> str:
        """The first 12 hex digits of the SHA-256 of the normalised items: the suite's version."""
        rows = [[i.id, i.messages, i.category, i.harmful, i.expected, i.variant] for i in self.items]
        blob = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        """``name@digest``, as reports name the suite."""
        return f"{self.name}@{self.digest}"


@dataclass(frozen=True, slots=True)
class Column:
    """Where a benchmark keeps each field: column names, or a constant for ``harmful``."""

    prompt: str
    id: str | None = None
    category: tuple[str, ...] = ()
    harmful: bool | str = True
    harmful_values: tuple[str, ...] = ()


# The column layouts of the public files (as their projects publish them). A ``harmful`` string is
# a column whose value is in ``harmful_values`` for harmful items; a bool applies to every row.
MAPPINGS: dict[str, Column] = {
    "harmbench": Column("Behavior", "BehaviorID", ("SemanticCategory",)),
    "advbench": Column("goal", None, ()),
    "simplesafetytests": Column("prompts_final", "id", ("harm_area", "category")),
    "xstest": Column("prompt", "id", ("type",), "label", ("unsafe",)),
    "do_not_answer": Column("question", "id", ("types_of_harm", "risk_area")),
    "jailbreakbench": Column("Goal", "Index", ("Category",)),
    "jailbreakbench_benign": Column("Goal", "Index", ("Category",), harmful=False),
}

# Keyword → category, first match wins, over the benchmark's category text in lower case.
_KEYWORDS: tuple[tuple[str, str], ...] = (
    (r"sexual|adult content|porn|child abuse|csam", "sexual_content"),
    (r"self-harm|self harm|suicide|eating disorder", "self_harm"),
    (r"cyber|malware|hack|intrusion|exploit", "cybersecurity"),
    (r"privacy|personal information|surveillance|sensitive information|doxx", "privacy"),
    (r"hate|discriminat|harass|bully|toxic|offensive|stereotyp", "hate_discrimination"),
    (r"misinformation|disinformation|fraud|scam|decept|manipulat|mislead", "deception"),
    (r"weapon|violen|physical harm|chemical|biological|explosive|terror", "violence_weapons"),
    (r"medical|\blegal\b|financial|expert|specialized|health|government decision", "specialized_advice"),
    (r"illegal|crime|criminal|regulated|drug|economic harm|malicious|copyright", "illegal_activities"),
    (r"^safe|benign|^none$", BENIGN),
)


def map_category(text: str) -> str:
    """Our category for a benchmark's category text; unmatched text becomes its own slug.

    >>> map_category("Physical harm and Violence"), map_category("chemical_biological")
    ('violence_weapons', 'violence_weapons')
    >>> map_category("Suicide, Self-Harm, and Eating Disorders"), map_category("Odd one")
    ('self_harm', 'odd_one')
    """
    lower = text.strip().lower()
    for pattern, category in _KEYWORDS:
        if re.search(pattern, lower):
            return category
    return re.sub(r"[^a-z0-9]+", "_", lower).strip("_") or "uncategorized"


def load_suite(path: Path, mapping: str | None = None) -> Suite:
    """Read a suite file (``.jsonl``, ``.json`` or ``.csv``), in our format or through ``mapping``."""
    rows = _rows(path)
    if mapping is None:
        items = [_native(row, n) for n, row in enumerate(rows, 1)]
    elif mapping in MAPPINGS:
        items = [_mapped(row, n, MAPPINGS[mapping]) for n, row in enumerate(rows, 1)]
    else:
        raise ConfigError("--suite-format", mapping, f"must be one of {sorted(MAPPINGS)}")
    if not items:
        raise ConfigError("--suite", str(path), "holds no items")
    _check_unique(items, path)
    return Suite(path.stem, tuple(items))


def _rows(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError("--suite", str(path), exc.strerror or "cannot be read") from exc
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(text.splitlines()))
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        return list(data if isinstance(data, list) else data.get("items", []))
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ConfigError("--suite", f"{path}:{n}", f"is not JSON ({exc.msg})") from exc
    return out


def _native(row: Mapping[str, Any], n: int) -> Item:
    messages = _messages(row, n)
    harmful = row.get("harmful", True)
    if isinstance(harmful, str):
        harmful = harmful.strip().lower() in {"1", "true", "yes", "unsafe", "harmful"}
    category = str(row.get("category") or ("uncategorized" if harmful else BENIGN))
    expected = row.get("expected")
    return Item(
        str(row.get("id") or n),
        messages,
        category,
        bool(harmful),
        None if expected in (None, "") else str(expected),
    )


def _messages(row: Mapping[str, Any], n: int) -> tuple[tuple[str, str], ...]:
    if isinstance(row.get("messages"), list):
        turns = tuple((str(m["role"]), str(m["content"])) for m in row["messages"])
        if any(role == "user" for role, _ in turns):
            return turns
    elif str(row.get("prompt") or "").strip():
        return (("user", str(row["prompt"])),)
    raise ConfigError("--suite", f"item {n}", "needs a non-empty prompt or a messages list with a user turn")


def _mapped(row: Mapping[str, Any], n: int, column: Column) -> Item:
    prompt = str(row.get(column.prompt) or "").strip()
    if not prompt:
        raise ConfigError("--suite", f"row {n}", f"has no {column.prompt!r} column value")
    if isinstance(column.harmful, bool):
        harmful = column.harmful
    else:
        harmful = str(row.get(column.harmful, "")).strip().lower() in column.harmful_values
    source = " ".join(str(row.get(c) or "") for c in column.category).strip()
    category = map_category(source) if harmful and source else ("uncategorized" if harmful else BENIGN)
    ident = str(row.get(column.id) or n) if column.id else str(n)
    return Item(ident, (("user", prompt),), category, harmful)


def _check_unique(items: Iterable[Item], path: Path) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ConfigError("--suite", str(path), f"repeats the id {item.id!r}")
        seen.add(item.id)
