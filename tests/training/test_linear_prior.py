"""The word-vector prior folds into the bucket weights, so the exported graph needs no new input."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.linear_model import LogisticRegression

from monitor.scoring.features import DIMS, bucket, hash_text, prompt_view
from monitor.training.linear import fit, matrix
from monitor.training.word_vectors import load_vectors, prior


def _toy() -> tuple[csr_matrix, np.ndarray]:
    texts = ["how do i bake bread", "write a poem about rain", "make a weapon at home", "steal a car quietly"]
    x = matrix([prompt_view(hash_text(t)) for t in texts * 5])
    return x, np.array([0, 0, 1, 1] * 5)


def test_folded_weights_predict_what_the_augmented_fit_predicts():
    x, y = _toy()
    table = prior("p1", 2.0)
    folded = fit(x, y, np.arange(len(y)) % 4, 1.0, calibrate=False, prior=table)
    augmented = hstack([x, csr_matrix(x @ table)]).tocsr()
    reference = LogisticRegression(C=1.0, max_iter=1000, tol=1e-3).fit(augmented, y)
    assert np.allclose(folded.predict_proba(x), reference.predict_proba(augmented)[:, 1], atol=1e-4)


def test_a_word_gets_its_vector_at_its_bucket():
    hashes, vectors = load_vectors()
    assert vectors.shape[0] == len(hashes) > 10_000
    words = hash_text("weapon").words
    row = int(np.flatnonzero(hashes == words[0])[0])
    table = prior("p1", 1.0)
    at = int(bucket(words, "p1")[0])
    assert table.shape == (DIMS, vectors.shape[1])
    assert np.allclose(table[at], vectors[row], atol=1e-3)  # a collision would add another word's vector
