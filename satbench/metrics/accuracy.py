"""Accuracy, balanced accuracy and binary cross-entropy from logits.

A logit > 0 predicts 1. Targets are {0,1} or bool, shaped like the logits: (N,) for one output
or (N, m) for several (the per-clause target). A trailing singleton axis on either side is
tolerated, so (N, 1) logits score against (N,) targets.
"""

import numpy as np

from satbench.metrics._arrays import as_float64


def _pair(logits, targets) -> tuple[np.ndarray, np.ndarray]:
    z = as_float64(logits, "logits")
    y = as_float64(targets, "targets")
    if z.shape != y.shape:
        if z.ndim == 2 and z.shape[1] == 1 and y.shape == z.shape[:1]:
            z = z[:, 0]
        elif y.ndim == 2 and y.shape[1] == 1 and z.shape == y.shape[:1]:
            y = y[:, 0]
        else:
            raise ValueError(f"logits {z.shape} and targets {y.shape}: shapes differ")
    if z.ndim not in (1, 2) or z.shape[0] == 0:
        raise ValueError(f"logits: expected a non-empty (N,) or (N, m) array, got {z.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("targets: expected values in {0, 1}")
    return z, y


def accuracy(logits, targets) -> float:
    """Fraction of predictions (logit > 0) equal to the target, over all samples and outputs."""
    z, y = _pair(logits, targets)
    return float(np.mean((z > 0) == (y == 1)))


def exact_match_accuracy(logits, targets) -> float:
    """Fraction of samples whose every output is predicted right (equal to accuracy for one
    output; for target `clauses`, every clause's value at once)."""
    z, y = _pair(logits, targets)
    right = ((z > 0) == (y == 1)).reshape(len(z), -1)
    return float(np.mean(right.all(axis=1)))


def balanced_accuracy(logits, targets) -> float:
    """Mean of the per-class recalls (recall on 0s and recall on 1s).

    A class absent from the targets is left out of the mean (as scikit-learn does), so an output
    whose targets are all one class scores that class's recall. For (N, m) targets the balanced
    accuracy is computed per output and averaged over outputs.
    """
    z, y = _pair(logits, targets)
    z2 = z.reshape(len(z), -1)
    y2 = y.reshape(len(y), -1) == 1
    pred = z2 > 0
    scores = []
    for k in range(y2.shape[1]):
        recalls = [np.mean(pred[y2[:, k] == c, k] == c) for c in (False, True) if
                   np.any(y2[:, k] == c)]
        scores.append(np.mean(recalls))
    return float(np.mean(scores))


def bce_loss(logits, targets) -> float:
    """Mean binary cross-entropy with logits, over all samples and outputs.

    Computed stably as max(z, 0) - z*y + log(1 + exp(-|z|)), as torch's BCEWithLogitsLoss does.
    """
    z, y = _pair(logits, targets)
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
