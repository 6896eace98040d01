"""Prediction kinds: how labels become a head's targets, how the head's outputs become predictions, how they are
scored, written and named, one row of `PREDICTION_KINDS` each. Fine-tuning, the studies, the model card and the
predictions file read a row (through `LabelInfo.kind`) and never branch on a kind's name; a new kind is one row here
(its target encoder in `targets.py`).

The metrics are those the paper reports (accuracy, F1, Matthews correlation, Pearson and Spearman correlation),
computed locally with scikit-learn and scipy (no metric downloads)."""

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn import metrics as sk

from .targets import check_scores, encode_class_ids, encode_multi_hot, encode_scores


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
        "f1": float(
            sk.f1_score(labels, predictions, average="binary" if num_labels == 2 else "macro", zero_division=0.0)
        ),
    }


def multi_label_metrics(predictions, labels, num_labels: int) -> dict[str, float]:
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    return {
        "exact_match": float(sk.accuracy_score(labels, predictions)),  # subset accuracy: every label right
        "f1_micro": float(sk.f1_score(labels, predictions, average="micro", zero_division=0.0)),
    }


def regression_metrics(predictions, labels, num_labels: int) -> dict[str, float]:
    return {
        "pearson": _correlation(stats.pearsonr, predictions, labels),
        "spearman": _correlation(stats.spearmanr, predictions, labels),
    }


def _class_name(prediction, id2label) -> str:
    return id2label[int(prediction)] if id2label else str(int(prediction))


def _class_names(id2label, count: int) -> list[str]:
    """Class names in id order; a choice head's outputs are the choices, by position."""
    return [id2label[i] for i in range(count)] if id2label else [f"choice_{i}" for i in range(count)]


def _softmax_columns(logits, id2label) -> dict[str, np.ndarray]:
    """Each class's (or choice's) probability, softmax over the row's logits."""
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities = shifted / shifted.sum(-1, keepdims=True)
    return {f"p_{name}": probabilities[:, i] for i, name in enumerate(_class_names(id2label, logits.shape[-1]))}


def _sigmoid_columns(logits, id2label) -> dict[str, np.ndarray]:
    """Each label's own probability (multi-label: independent sigmoids)."""
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    return {f"p_{name}": probabilities[:, i] for i, name in enumerate(_class_names(id2label, logits.shape[-1]))}


def class_report(predictions, labels, id2label, num_labels: int) -> dict:
    """Per-class precision, recall, F1 and support (scikit-learn's `classification_report`), and for single-label
    predictions the confusion matrix (rows: gold, columns: predicted), with the class names."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    multi = predictions.ndim == 2
    count = predictions.shape[1] if multi else max(num_labels, int(max(predictions.max(), labels.max())) + 1)
    names = _class_names(id2label, count)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = sk.classification_report(
            labels,
            predictions,
            labels=None if multi else list(range(count)),
            target_names=names,
            output_dict=True,
            zero_division=0.0,
        )
    per_class = {name: {k: float(v) for k, v in report[name].items()} for name in names}
    out = {"classes": per_class}
    if not multi:
        matrix = sk.confusion_matrix(labels, predictions, labels=list(range(count)))
        out["confusion_matrix"] = {"labels": names, "matrix": matrix.tolist()}
    return out


def _f1_variant(num_labels: int) -> str:
    return (
        "binary F1 of class 1 (GLUE's MRPC / QQP convention)"
        if num_labels == 2
        else "macro F1 (unweighted mean over classes)"
    )


@dataclass(frozen=True)
class PredictionKind:
    """One way of reading and scoring a head's outputs.

    name: the kind (results and study tables show it).
    problem_type: transformers' `config.problem_type`, which picks the head's loss.
    encode_targets: (splits, unlabelled split names) -> (splits with targets, head outputs, id2label or None).
    predictions: logits (numpy) -> predictions (class ids, scores or multi-hot rows).
    scores: (predictions, labels, num_labels) -> {metric name: value}, every name in `metric_names`.
    default_metric: the metric that picks the kept checkpoint unless the user names another.
    show: (one prediction, id2label or None) -> its text in predictions_test.tsv.
    text_baseline: whether a TF-IDF + logistic regression baseline predicts it (the data-efficiency study).
    check_labels: (splits, unlabelled split names) -> None, the checks that name rows before the data is split.
    row_columns: (logits, id2label or None) -> {column: one value per row} for predictions_test.tsv: each class's
        probability (a choice head: each choice's), nothing beyond the prediction for a score.
    report: (predictions, labels, id2label, num_labels) -> per-class precision / recall / F1 (and the confusion
        matrix), or None where there are no classes.
    metric_notes: num_labels -> {metric name: what exactly it is}, for the model card and results.json.
    """

    name: str
    problem_type: str
    encode_targets: Callable
    predictions: Callable
    scores: Callable[..., dict[str, float]]
    metric_names: tuple[str, ...]
    default_metric: str
    show: Callable[..., str]
    text_baseline: bool = False
    check_labels: Callable = lambda raw, unlabelled: None
    row_columns: Callable = lambda logits, id2label: {}
    report: Callable | None = None
    metric_notes: Callable[[int], dict[str, str]] = lambda num_labels: {}

    def metrics(self, predictions, labels, num_labels: int) -> dict[str, float]:
        """All metrics of this kind. Degenerate evaluation sets (one class only, constant scores) give 0.0 for the
        undefined metrics, quietly."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.scores(predictions, labels, num_labels)


PREDICTION_KINDS = {
    kind.name: kind
    for kind in (
        PredictionKind(
            "classification",
            "single_label_classification",
            encode_class_ids,
            lambda logits: logits.argmax(-1),
            classification_metrics,
            ("accuracy", "mcc", "f1"),
            "accuracy",
            _class_name,
            text_baseline=True,
            row_columns=_softmax_columns,
            report=class_report,
            metric_notes=lambda num_labels: {"f1": _f1_variant(num_labels), "mcc": "Matthews correlation"},
        ),
        PredictionKind(
            "multi_label",
            "multi_label_classification",
            encode_multi_hot,
            lambda logits: (logits > 0).astype(np.int64),
            multi_label_metrics,
            ("exact_match", "f1_micro"),
            "f1_micro",
            lambda row, id2label: ",".join(id2label[i] for i, on in enumerate(row) if on),
            row_columns=_sigmoid_columns,
            report=class_report,
            metric_notes=lambda num_labels: {
                "exact_match": "subset accuracy: every label of a row right",
                "f1_micro": "micro F1 over all labels",
            },
        ),
        PredictionKind(
            "regression",
            "regression",
            encode_scores,
            lambda logits: logits.reshape(-1),
            regression_metrics,
            ("pearson", "spearman"),
            "pearson",
            lambda score, id2label: f"{float(score):.6g}",
            check_labels=check_scores,
            metric_notes=lambda num_labels: {"pearson": "Pearson correlation", "spearman": "Spearman correlation"},
        ),
    )
}
KIND_OF_PROBLEM_TYPE = {kind.problem_type: kind for kind in PREDICTION_KINDS.values()}
METRIC_NAMES = tuple(dict.fromkeys(name for kind in PREDICTION_KINDS.values() for name in kind.metric_names))


@dataclass
class LabelInfo:
    """What the encoded labels of a task are: transformers' problem type, the head's number of outputs and the class
    names (None for scores and choices)."""

    problem_type: str
    num_labels: int
    id2label: dict[int, str] | None

    @property
    def kind(self) -> PredictionKind:
        """How predictions are read from logits, scored and written (a row of PREDICTION_KINDS)."""
        return KIND_OF_PROBLEM_TYPE[self.problem_type]
