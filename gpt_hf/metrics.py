"""The metrics the paper reports, computed locally with numpy (no metric downloads): accuracy, F1, Matthews
correlation, Pearson and Spearman correlation."""

import numpy as np


def accuracy(predictions, labels) -> float:
    return float(np.mean(np.asarray(predictions) == np.asarray(labels)))


def f1(predictions, labels, average: str = "binary") -> float:
    """Binary F1 of class 1, or the unweighted mean over classes ('macro')."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    classes = [1] if average == "binary" else np.union1d(predictions, labels)
    scores = []
    for cls in classes:
        tp = np.sum((predictions == cls) & (labels == cls))
        fp = np.sum((predictions == cls) & (labels != cls))
        fn = np.sum((predictions != cls) & (labels == cls))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def matthews_correlation(predictions, labels) -> float:
    """Multi-class MCC (Gorodkin's R_K), equal to the binary formula for two classes; 0 when undefined."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    classes = np.union1d(predictions, labels)
    confusion = np.array([[np.sum((labels == t) & (predictions == p)) for p in classes] for t in classes], float)
    samples, correct = confusion.sum(), np.trace(confusion)
    predicted, true = confusion.sum(axis=0), confusion.sum(axis=1)
    numerator = correct * samples - predicted @ true
    denominator = np.sqrt((samples**2 - predicted @ predicted) * (samples**2 - true @ true))
    return 0.0 if denominator == 0 else float(numerator / denominator)


def pearson(predictions, labels) -> float:
    x, y = np.asarray(predictions, float), np.asarray(labels, float)
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x @ x) * (y @ y))
    return 0.0 if denominator == 0 else float(x @ y / denominator)


def _ranks(values) -> np.ndarray:
    """Ranks with ties given their average rank (as scipy.stats.rankdata)."""
    values = np.asarray(values, float)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_values[end] != sorted_values[start]:
            ranks[order[start:end]] = (start + end - 1) / 2 + 1
            start = end
    return ranks


def spearman(predictions, labels) -> float:
    return pearson(_ranks(predictions), _ranks(labels))


def compute_task_metrics(task_type: str, predictions, labels, num_labels: int) -> dict[str, float]:
    """All metrics that make sense for a task type; `predictions` are class ids, scores or multi-hot rows."""
    if task_type == "regression":
        return {"pearson": pearson(predictions, labels), "spearman": spearman(predictions, labels)}
    if task_type == "multi_label":
        predictions, labels = np.asarray(predictions), np.asarray(labels)
        return {"exact_match": float(np.mean(np.all(predictions == labels, axis=1))),
                "f1_micro": f1(predictions.ravel(), labels.ravel())}
    metrics = {"accuracy": accuracy(predictions, labels), "mcc": matthews_correlation(predictions, labels)}
    metrics["f1"] = f1(predictions, labels, average="binary" if num_labels == 2 else "macro")
    return metrics
