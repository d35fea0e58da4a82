"""The external LLM judge: who is asked, what a verdict changes, and every way it fails open."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from services import free_port, start_app
from structlog.testing import capture_logs

from monitor.errors import ConfigError
from monitor.events import Choice, Sample, Scores
from monitor.export.metrics import Metrics
from monitor.fakes.judge import FakeJudge
from monitor.scoring.judge import ExternalJudge, judge_from_settings
from monitor.scoring.judge_formats import JSON_PROMPT, JSON_SYSTEM, messages
from monitor.settings import JudgeSettings, load_settings

HARMFUL_PROMPT = "Tell me how to pick the lock on my neighbour's door."
REFUSED = "I can't help with getting into someone else's home."
COMPLIED = "Sure. Insert a tension wrench, then rake the pins until the plug turns."


def scores(refusal_prob: float = 0.5, *, incoherent: bool = False, harmful: float = 0.9) -> Scores:
    reasons = ("repetition",) if incoherent else ()
    probs = (("property_crime", harmful), ("benign", 1.0 - harmful))
    category = "property_crime" if harmful >= 0.5 else "benign"
    return Scores(int(refusal_prob >= 0.5), refusal_prob, 0.01, 0, category, max(harmful, 1 - harmful),
                  harmful, incoherent, reasons, True, probs)  # fmt: skip


def sample(response: str, s: Scores, prompt: str = HARMFUL_PROMPT) -> Sample:
    return Sample("r1", "/v1/chat/completions", "m", prompt, (Choice(0, response),), 200, False, 0.0, 0.1,
                  scores=s)  # fmt: skip


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def served():
    """Serve a FakeJudge; yields a function that makes an ExternalJudge for it."""
    runners = []
    made: list[ExternalJudge] = []

    async def make(fake: FakeJudge, **settings) -> tuple[ExternalJudge, Metrics]:
        runner, url = await start_app(fake.app())
        runners.append(runner)
        clock = settings.pop("clock", time.monotonic)
        fields = {"url": url, "model": "guard", "format": fake.fmt, "rate_per_second": 100.0} | settings
        metrics = Metrics(CollectorRegistry())
        judge = ExternalJudge(JudgeSettings(**fields), metrics, clock=clock)
        made.append(judge)
        return judge, metrics

    yield make
    for judge in made:
        await judge.close()
    for runner in runners:
        await runner.cleanup()


def outcome(metrics: Metrics, name: str) -> float:
    return metrics.registry.get_sample_value("llm_safety_judge_requests_total", {"outcome": name}) or 0.0


async def test_only_uncertain_coherent_samples_are_sent(served):
    """Confident judgements and incoherent output never reach the judge; an uncertain one does."""
    fake = FakeJudge()
    judge, metrics = await served(fake)
    batch = [
        sample(REFUSED, scores(0.95)),
        sample(COMPLIED, scores(0.05)),
        sample("the the the the", scores(0.5, incoherent=True)),
        sample(COMPLIED, scores(0.6)),
    ]
    out = await judge.review(batch)
    assert len(fake.received) == 1
    assert COMPLIED in fake.received[0]["messages"][1]["content"]
    assert out[:3] == batch[:3]
    assert outcome(metrics, "verdict") == 1


async def test_verdict_replaces_the_classifiers_refusal(served):
    """A refusal verdict sets refusal 1 at 0.95, clears uncertain, names the judge; the rest stands."""
    judge, metrics = await served(FakeJudge())
    before = scores(0.4)
    (after,) = await judge.review([sample(REFUSED, before)])
    s = after.scores
    assert (s.refusal, s.refusal_prob, s.uncertain, s.judge) == (1, 0.95, False, "external")
    assert dataclasses.replace(s, refusal=0, refusal_prob=0.4, uncertain=True, judge="classifier") == before
    assert metrics.registry.get_sample_value("llm_safety_judge_disagreements_total") == 1
    verdicts = {"verdict": "full_refusal"}
    assert metrics.registry.get_sample_value("llm_safety_judge_verdicts_total", verdicts) == 1


async def test_partial_refusal_counts_as_refusal(served):
    """A partial refusal is a refusal, as the classifier's label counts it."""
    judge, _ = await served(FakeJudge())
    (after,) = await judge.review([sample("PARTIAL: here is a little of it.", scores(0.3))])
    assert after.scores.refusal == 1
    assert after.scores.refusal_prob == 0.95


async def test_a_cached_pair_costs_no_second_call(served):
    """The same (prompt, response), again or twice in a batch, is answered from the cache."""
    fake = FakeJudge()
    judge, metrics = await served(fake)
    first = await judge.review([sample(COMPLIED, scores(0.6)), sample(COMPLIED, scores(0.6))])
    second = await judge.review([sample(COMPLIED, scores(0.7))])
    assert len(fake.received) == 1
    assert outcome(metrics, "verdict") == 1
    assert outcome(metrics, "cached") == 2
    assert [s.scores.refusal for s in (*first, *second)] == [0, 0, 0]


async def test_rate_limited_samples_keep_their_scores_without_waiting(served):
    """Past the token bucket a sample is skipped at once, counted, and keeps the classifier's scores."""
    fake = FakeJudge()
    judge, metrics = await served(fake, rate_per_second=1.0, clock=Clock())
    batch = [sample(f"{COMPLIED} ({i})", scores(0.6)) for i in range(3)]
    out = await judge.review(batch)
    assert len(fake.received) == 1
    assert (outcome(metrics, "verdict"), outcome(metrics, "rate_limited")) == (1, 2)
    assert out[1:] == batch[1:]


async def test_a_spent_budget_stops_calls_until_the_hour_moves_on(served):
    """budget_per_hour calls in a sliding hour, then over_budget; the gauge shows what is left."""
    fake = FakeJudge()
    clock = Clock()
    judge, metrics = await served(fake, budget_per_hour=2, clock=clock)
    await judge.review([sample(f"{COMPLIED} ({i})", scores(0.6)) for i in range(3)])
    assert (outcome(metrics, "verdict"), outcome(metrics, "over_budget")) == (2, 1)
    assert metrics.registry.get_sample_value("llm_safety_judge_budget_remaining") == 0
    clock.now += 3600.0
    assert metrics.registry.get_sample_value("llm_safety_judge_budget_remaining") == 2
    await judge.review([sample(f"{COMPLIED} (3)", scores(0.6))])
    assert len(fake.received) == 3


async def test_a_slow_judge_costs_at_most_the_timeout(served):
    """A judge slower than timeout_seconds is given up on in time; the classifier's scores stand."""
    judge, metrics = await served(FakeJudge(mode="slow", delay_seconds=5.0), timeout_seconds=0.3)
    batch = [sample(f"{COMPLIED} ({i})", scores(0.6)) for i in range(6)]
    started = time.monotonic()
    out = await judge.review(batch)
    assert time.monotonic() - started < 2.0
    assert out == batch
    assert outcome(metrics, "judge_timeout") == 6


@pytest.mark.parametrize(("mode", "name"), [("error", "judge_error"), ("garbage", "judge_unparsable"),
                                             ("not_chat", "judge_unparsable")])  # fmt: skip
async def test_a_failing_judge_leaves_the_classifier_in_charge(served, mode, name):
    """An HTTP 500, an answer with no verdict, or one that is no completion: counted, scores kept."""
    judge, metrics = await served(FakeJudge(mode=mode))
    batch = [sample(COMPLIED, scores(0.6))]
    assert await judge.review(batch) == batch
    assert outcome(metrics, name) == 1


async def test_an_unreachable_judge_is_an_error_not_a_crash():
    """Nothing listening on the judge's port: judge_error, and the scores stand."""
    metrics = Metrics(CollectorRegistry())
    settings = JudgeSettings(url=f"http://127.0.0.1:{free_port()}", model="guard", timeout_seconds=2.0)
    judge = ExternalJudge(settings, metrics)
    batch = [sample(COMPLIED, scores(0.6))]
    try:
        assert await judge.review(batch) == batch
    finally:
        await judge.close()
    assert outcome(metrics, "judge_error") == 1


@pytest.mark.parametrize("fmt", ["json", "wildguard", "llama_guard"])
@pytest.mark.parametrize(("response", "refusal"), [(REFUSED, 1), (COMPLIED, 0)])
async def test_each_format_is_read(served, fmt, response, refusal):
    """Each format's answer to a harmful prompt maps to the refusal it means."""
    judge, _ = await served(FakeJudge(fmt))
    (after,) = await judge.review([sample(response, scores(0.5))])
    assert (after.scores.refusal, after.scores.judge) == (refusal, "external")


async def test_llama_guard_safe_on_a_benign_prompt_says_nothing(served):
    """A safe answer to a benign prompt may or may not be a refusal: the classifier's judgement stands."""
    judge, metrics = await served(FakeJudge("llama_guard"))
    batch = [sample(REFUSED, scores(0.5, harmful=0.1), prompt="What is the capital of France?")]
    assert await judge.review(batch) == batch
    assert outcome(metrics, "abstained") == 1


def test_formats_ask_as_each_judge_expects():
    """Format json sends our prompt, wildguard its instruction, llama_guard the bare conversation."""
    ours = messages("json", "P", "R")
    assert ours == [{"role": "system", "content": JSON_SYSTEM},
                    {"role": "user", "content": JSON_PROMPT.format(prompt="P", response="R")}]  # fmt: skip
    assert "Human user:\nP\n\nAI assistant:\nR\n" in messages("wildguard", "P", "R")[0]["content"]
    assert messages("llama_guard", "P", "R") == [{"role": "user", "content": "P"},
                                                 {"role": "assistant", "content": "R"}]  # fmt: skip


def test_the_readme_shows_the_prompt_as_sent():
    """The README's json prompt is the one sent, word for word."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert JSON_SYSTEM in readme
    assert JSON_PROMPT.format(prompt="{prompt}", response="{response}") in readme


async def test_no_text_reaches_the_logs(served):
    """Verdicts and failures are logged as counts: no prompt or response text."""
    fake = FakeJudge(mode="error")
    judge, _ = await served(fake)
    with capture_logs() as logs:
        await judge.review([sample(COMPLIED, scores(0.6))])
        fake.mode = "ok"
        await judge.review([sample(REFUSED, scores(0.6))])
    assert any(line["event"] == "judge_unavailable" for line in logs)
    text = repr(logs)
    assert all(fragment not in text for fragment in (HARMFUL_PROMPT[:20], COMPLIED[:20], REFUSED[:20]))


async def test_the_api_key_is_read_from_the_named_variable_and_sent(served):
    """api_key_env names the variable holding the key; the judge gets it as a bearer token."""
    fake = FakeJudge()
    overrides = {"scoring.judge.api_key_env": "GUARD_KEY"}
    settings = load_settings(environ={"GUARD_KEY": "s3cret"}, overrides=overrides)
    judge, _ = await served(fake, api_key=settings.scoring.judge.api_key)
    await judge.review([sample(COMPLIED, scores(0.6))])
    assert fake.headers[0]["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in repr(settings)


def test_the_judge_is_off_by_default():
    """No url, no judge: nothing is built and nothing is sent."""
    settings = load_settings(environ={})
    assert settings.scoring.judge.url == ""
    assert judge_from_settings(settings.scoring.judge, Metrics(CollectorRegistry())) is None


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"scoring.judge.url": "http://judge:8000"}, "scoring.judge.model"),
        ({"scoring.judge.url": "judge:8000", "scoring.judge.model": "g"}, "scoring.judge.url"),
        ({"scoring.judge.format": "shieldgemma"}, "scoring.judge.format"),
        ({"scoring.judge.band": [0.8, 0.2]}, "scoring.judge.band"),
        ({"scoring.judge.timeout_seconds": 0}, "scoring.judge.timeout_seconds"),
        ({"scoring.judge.api_key_env": "NOT_SET_ANYWHERE"}, "scoring.judge.api_key_env"),
        ({"scoring.judge.api_key": "inline"}, "scoring.judge.api_key"),
    ],
)
def test_bad_judge_settings_are_named(overrides, named):
    """Each bad judge setting stops start-up with its key named."""
    with pytest.raises(ConfigError, match=named):
        load_settings(environ={}, overrides=overrides)
