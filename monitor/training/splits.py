"""The seed and the prompt-grouped folds every model's evaluation shares."""

from __future__ import annotations

import numpy as np

from monitor.training.data import Dataset

__all__ = ["SEED", "folds", "groups"]

SEED = 20261123


def groups(ds: Dataset) -> np.ndarray:
    """One integer per record: records that share a prompt (or a jailbreak's goal) share it."""
    return np.unique(np.array([str(g) for g in ds.column("group")]), return_inverse=True)[1]


def folds(group_ids: np.ndarray, k: int) -> list[np.ndarray]:
    """Prompt groups split into ``k`` folds by a seeded permutation of the groups."""
    order = np.random.default_rng(SEED).permutation(group_ids.max() + 1)
    return [np.isin(group_ids, order[i::k]) for i in range(k)]
