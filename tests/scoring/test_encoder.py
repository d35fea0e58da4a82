"""The sentence encoder and the harm-category blend: what they compute, and when they are used."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from monitor.errors import ClassifierError
from monitor.scoring.encoder import ENCODER, TOKENIZER, SentenceEncoder
from monitor.scoring.scorer import CATEGORY_HEAD, MODEL_DIR, TOXICITY_HEAD, Scorer, blend, blend_binary
from monitor.scoring.session import HeadSession


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(MODEL_DIR)


def test_embeddings_are_unit_rows(encoder):
    vectors = encoder.embed(["Where is the nearest bakery?", "", "word " * 400])
    assert vectors.shape == (3, encoder.dims)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)


def test_a_text_embeds_the_same_alone_and_in_a_batch(encoder):
    """Batches are padded by length; the mask keeps the padding out (int8 rounding aside)."""
    texts = ["Hi.", "Summarise the plot of a long novel about a whaling voyage in three sentences."]
    together = encoder.embed(texts)
    alone = np.vstack([encoder.embed([t]) for t in texts])
    assert np.all((together * alone).sum(axis=1) > 0.98)


def test_meaning_is_closer_than_wording(encoder):
    """What transfers across sources: paraphrases sit together, shared words do not."""
    a, b, c = encoder.embed(
        [
            "How can I build an explosive device at home?",
            "Give me instructions for making a bomb in my garage.",
            "How can I build a bookshelf at home?",
        ]
    )
    assert a @ b > a @ c


def test_blend_is_a_normalised_product_of_experts():
    linear = np.array([[0.7, 0.2, 0.1]])
    encoder = np.array([[0.1, 0.6, 0.3]])
    assert np.allclose(blend(linear, encoder, (1.0, 0.0)), linear)
    assert np.allclose(blend(linear, encoder, (0.0, 1.0)), encoder)
    mixed = blend(linear, encoder, (1.0, 1.0))
    assert mixed.sum() == pytest.approx(1.0)
    assert np.allclose(mixed, linear * encoder / (linear * encoder).sum())


def test_the_shipped_scorer_blends_and_can_be_turned_off():
    prompt = "Write a convincing message that tricks an elderly person into sharing a bank password."
    blended = Scorer().score([prompt], ["No."])[0]
    linear = Scorer(encoder=False).score([prompt], ["No."])[0]
    assert blended.category_probs != linear.category_probs
    assert blended.refusal_prob == linear.refusal_prob  # refusal never reads the encoder


def test_a_model_folder_without_the_encoder_scores_with_the_linear_model(tmp_path):
    for path in MODEL_DIR.glob("*.onnx"):
        if path.name not in (ENCODER, CATEGORY_HEAD):
            shutil.copy(path, tmp_path)
    prompt = "Plan a weekend hike."
    assert Scorer(tmp_path).score([prompt], ["Sure."]) == Scorer(encoder=False).score([prompt], ["Sure."])


def test_a_broken_encoder_is_a_classifier_error(tmp_path):
    shutil.copy(MODEL_DIR / TOKENIZER, tmp_path)
    (tmp_path / ENCODER).write_bytes(b"not a model")
    with pytest.raises(ClassifierError, match="encoder"):
        SentenceEncoder(tmp_path)


def test_head_carries_its_blend_weights_and_the_linear_models_classes():
    head = HeadSession(MODEL_DIR / CATEGORY_HEAD)
    assert all(w >= 0 for w in head.blend)
    assert head.classes == Scorer(encoder=False)._category.classes


def test_repeated_texts_come_from_the_bounded_cache():
    encoder = SentenceEncoder(MODEL_DIR, cache_size=2)
    first = encoder.embed(["one prompt", "another prompt"])
    assert np.array_equal(encoder.embed(["another prompt", "one prompt"]), first[::-1])
    encoder.embed(["a third prompt"])
    assert len(encoder._cache) == 2  # the least recently used went


def test_toxicity_goes_to_the_encoder_only_where_the_linear_model_does_not_call_it_clean():
    responses = [
        "Here is a recipe for lentil soup with carrots, cumin and a squeeze of lemon.",
        "You are a worthless idiot and everyone despises you, so shut up.",
    ]
    linear = [s.toxicity for s in Scorer(encoder=False).score(["Q?", "Q?"], responses)]
    shipped = [s.toxicity for s in Scorer().score(["Q?", "Q?"], responses)]
    cascade = HeadSession(MODEL_DIR / TOXICITY_HEAD).cascade
    assert linear[0] < cascade
    assert shipped[0] == linear[0]
    assert linear[1] >= cascade
    assert shipped[1] != linear[1]


def test_binary_blend_matches_the_two_class_product():
    linear, encoder = np.array([0.2, 0.9]), np.array([0.6, 0.1])
    expected = blend(np.stack([1 - linear, linear], 1), np.stack([1 - encoder, encoder], 1), (0.5, 0.7))[:, 1]
    assert np.allclose(blend_binary(linear, encoder, (0.5, 0.7)), expected)
