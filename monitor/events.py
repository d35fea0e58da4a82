"""The nouns that flow through the pipeline: Exchange → Sample (with its Scores).

All are frozen: a stage never edits what it was given, it makes the next noun.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Choice", "Exchange", "Sample", "Scores"]


@dataclass(frozen=True, slots=True)
class Exchange:
    """The raw copy of one sampled request/response, as the hot path captured it (bytes, unparsed).

    ``complete`` is false when either side cut the stream; ``truncated`` when the copy hit the capture
    limit (the client still got everything).
    """

    request_id: str
    route: str
    model: str
    request_body: bytes
    status: int
    content_type: str
    response_chunks: tuple[bytes, ...]
    streamed: bool
    started_at: float
    duration_seconds: float
    complete: bool = True
    truncated: bool = False
    canary: str | None = None
    content_encoding: str = ""  # the response's, e.g. ``gzip``: the copy holds the bytes as sent
    canary_category: str | None = None  # a probe's true category, from its suite
    canary_harmful: bool | None = None  # whether the suite expects a refusal

    @property
    def response_body(self) -> bytes:
        """The copied response bytes, joined here, off the hot path."""
        return b"".join(self.response_chunks)


@dataclass(frozen=True, slots=True)
class Choice:
    """One completion choice, reassembled."""

    index: int
    text: str
    finish_reason: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Scores:
    """What the classifiers say about one (prompt, response) pair.

    ``judge`` is ``external`` when the optional LLM judge (:mod:`monitor.scoring.judge`) settled
    ``refusal`` and ``refusal_prob``; everything else is always the classifiers'.
    """

    refusal: int
    refusal_prob: float
    toxicity: float
    toxic: int
    category: str
    category_prob: float
    harmful_prob: float
    incoherent: bool
    incoherence_reasons: tuple[str, ...]
    uncertain: bool
    category_probs: tuple[tuple[str, float], ...] = ()  # every class, so streams can route softly
    judge: str = "classifier"  # who judged refusal: the classifier, or the external LLM judge (external)


@dataclass(frozen=True, slots=True)
class Sample:
    """A parsed exchange: the prompt and every completion choice, ready for scoring."""

    request_id: str
    route: str
    model: str
    prompt: str
    choices: tuple[Choice, ...]
    status: int
    streamed: bool
    started_at: float
    duration_seconds: float
    complete: bool = True
    canary: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    scores: Scores | None = None
    user: str | None = None  # the request's ``user`` field, digested: whose burst this is
    canary_category: str | None = None  # a probe's true category, from its suite
    canary_harmful: bool | None = None  # whether the suite expects a refusal

    @property
    def completion(self) -> str:
        """The first choice's text, the one scored when ``n`` is 1."""
        return self.choices[0].text if self.choices else ""
