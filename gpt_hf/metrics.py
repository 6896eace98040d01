"""The metrics the paper reports (accuracy, F1, Matthews correlation, Pearson and Spearman correlation), computed
locally with scikit-learn and scipy (no metric downloads), one table row per prediction kind (`LabelInfo.kind`)."""

import warnings

import numpy as np
from scipy import stats
from sklearn import metrics as sk


def _correlation(function, predictions, labels) -> float:
    """scipy's correlation, 0.0 (not NaN) when either side is constant: no signal, no correlation."""
    x, y = np.asarray(predictions, float), np.asarray(labels, float)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(function(x, y)[0])


def classification_metrics(predictions, labels, num_labels: int) -> dict[str, float]:
    return {
        "accuracy": float(sk.accuracy_score(labels, predictions)),
        "mcc": float(sk.matthews_corrcoef(labels, predictions)),  # multi-class R_K; 0.0 when undefined
        # binary: F1 of class 1 (GLUE's MRPC / QQP convention); more classes: unweighted mean over classes
        "f1": float(sk.f1_score(labels, predictions, average="binary" if num_labels == 2 else "macro",
                                zero_division=0.0)),
    }


def multi_label_metrics(predictions, labels, num_labels: int) -> dict[str, float]:
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    return {"exact_match": float(sk.accuracy_score(labels, predictions)),  # subset accuracy: every label right
            "f1_micro": float(sk.f1_score(labels, predictions, average="micro", zero_division=0.0))}


def regression_metrics(predictions, labels, num_labels: int) -> dict[str, float]:
    return {"pearson": _correlation(stats.pearsonr, predictions, labels),
            "spearman": _correlation(stats.spearmanr, predictions, labels)}


# prediction kind -> (all its metrics, the one that picks the best checkpoint by default)
METRICS = {
    "classification": (classification_metrics, "accuracy"),
    "multi_label": (multi_label_metrics, "f1_micro"),
    "regression": (regression_metrics, "pearson"),
}


def compute_task_metrics(kind: str, predictions, labels, num_labels: int) -> dict[str, float]:
    """All metrics that make sense for a prediction kind; `predictions` are class ids, scores or multi-hot rows.
    Degenerate evaluation sets (one class only, constant scores) give 0.0 for the undefined metrics, quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return METRICS[kind][0](predictions, labels, num_labels)


def default_metric(kind: str) -> str:
    return METRICS[kind][1]
