"""Bounded label values: free-form model names and paths become closed sets."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from monitor.export.metrics import OTHER
from monitor.settings import CHAT_ROUTE, COMPLETIONS_ROUTE

__all__ = ["ModelLabels", "route_label"]

_ROUTE_LABELS = {CHAT_ROUTE: "chat_completions", COMPLETIONS_ROUTE: "completions"}


def route_label(path: str) -> str:
    """``/v1/chat/completions`` → ``chat_completions``; any other path → ``other``."""
    return _ROUTE_LABELS.get(path, OTHER)


class ModelLabels:
    """Map model names to a bounded label set.

    Parameters
    ----------
    allowlist
        Names that are always their own label. When empty, the first ``max_auto`` distinct names seen
        are admitted instead, so a single-model deployment needs no configuration.
    max_auto
        How many names to admit when there is no allowlist.
    on_admit
        Called once with each newly admitted name (to create its metric series).

    """

    def __init__(
        self, allowlist: Iterable[str], max_auto: int, on_admit: Callable[[str], None] | None = None
    ) -> None:
        self.allowlist = tuple(allowlist)
        self.max_auto = max_auto
        self.on_admit = on_admit
        self._known = set(self.allowlist)
        self._auto = not self.allowlist

    def __call__(self, name: str | None) -> str:
        """The label for ``name``: itself when known or admitted, else ``other``."""
        if name is None:
            return OTHER
        if name in self._known:
            return name
        if self._auto and len(self._known) < self.max_auto and name and len(name) <= 128:  # noqa: PLR2004
            self._known.add(name)
            if self.on_admit is not None:
                self.on_admit(name)
            return name
        return OTHER
