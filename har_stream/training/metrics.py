"""Classification figures computed correctly: accuracy, log loss on probabilities, per-class P/R/F1, confusion."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Probabilities are clipped to [EPS, 1] before the logarithm, so a confident mistake costs log(1/EPS), not inf.
EPS = 1e-15


def log_loss(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Mean negative log probability given to the true class (rows renormalised to sum to 1).

    The seed notebook called ``log_loss(predictions, labels)`` with rounded predictions; this takes the true
    class indices first and the unrounded probabilities second.
    """
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)
    picked = probs[np.arange(len(y_true)), np.asarray(y_true)]
    return float(-np.mean(np.log(np.clip(picked, EPS, 1.0))))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``matrix[true, predicted]`` counts."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def classification_report(y_true: np.ndarray, probs: np.ndarray, classes: tuple[str, ...]) -> dict[str, Any]:
    """Accuracy, log loss, balanced accuracy, macro F1, per-class precision/recall/F1/support and confusion."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(probs).argmax(axis=1)
    matrix = confusion_matrix(y_true, y_pred, len(classes))
    true_positives = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = np.divide(true_positives, predicted, out=np.zeros_like(true_positives), where=predicted > 0)
    recall = np.divide(true_positives, support, out=np.zeros_like(true_positives), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positives), where=denominator > 0)
    present = support > 0
    per_class = {
        name: {
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(support[i]),
        }
        for i, name in enumerate(classes)
    }
    return {
        "n_images": len(y_true),
        "accuracy": round(float(np.mean(y_pred == y_true)), 4) if len(y_true) else 0.0,
        "log_loss": round(log_loss(y_true, probs), 4) if len(y_true) else 0.0,
        "balanced_accuracy": round(float(recall[present].mean()), 4) if present.any() else 0.0,
        "macro_f1": round(float(f1[present].mean()), 4) if present.any() else 0.0,
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "classes": list(classes),
    }


#: The figures of a classification report that model.json keeps per split.
HEADLINE_FIGURES = ("accuracy", "log_loss", "balanced_accuracy", "macro_f1", "n_images")


def headline_figures(reports: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per split, the headline figures of its :func:`classification_report` (for ``model.json``)."""
    return {split: {key: report[key] for key in HEADLINE_FIGURES} for split, report in reports.items()}
