"""Temperature scaling (Guo et al. 2017): one scalar fitted on validation logits so that the
confidence the app shows is a probability people can read at face value."""

from __future__ import annotations

import numpy as np

from ml.classifier import softmax, top_two_margin


def _nll(logits: np.ndarray, right: np.ndarray, temperature: float) -> float:
    """Mean -log P(a right class): right is a boolean [N, classes] mask (most rows one class)."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    top = np.where(right, log_probs, -np.inf).max(axis=1, keepdims=True)
    return float(-(top[:, 0] + np.log(np.where(right, np.exp(log_probs - top), 0).sum(axis=1))).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising held-out NLL (golden-section search on log T). labels: class indices
    [N], or a boolean mask [N, classes] of the right classes (a photo between two classes has two)."""
    right = labels if labels.ndim == 2 else np.eye(logits.shape[1], dtype=bool)[labels]
    lo, hi = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if _nll(logits, right, np.exp(a)) < _nll(logits, right, np.exp(b)):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        chosen = (confidence > lo) & (confidence <= hi)
        if chosen.any():
            ece += chosen.mean() * abs((predicted[chosen] == labels[chosen]).mean() - confidence[chosen].mean())
    return float(ece)


GATE_CANDIDATES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def choose_tta_gate(plain: np.ndarray, flipped: np.ndarray, labels: np.ndarray, temperature: float,
                    candidates: tuple[float, ...] = GATE_CANDIDATES) -> tuple[float | None, float]:
    """The narrowest top-two margin above which the mirrored view can be skipped with validation
    accuracy no lower than always averaging both views, and the share of images still given the
    second view. (None, 1.0) when no candidate keeps the accuracy.

    Flip averaging doubles the forward pass but only changes answers the first view was unsure of."""
    averaged = (plain + flipped) / 2
    full = int((averaged.argmax(1) == labels).sum())
    margin = top_two_margin(softmax(plain / temperature))  # the measure Classifier.logits gates on
    for gate in sorted(candidates):
        again = margin < gate
        answers = np.where(again[:, None], averaged, plain).argmax(1)
        if int((answers == labels).sum()) >= full:
            return gate, float(again.mean())
    return None, 1.0
