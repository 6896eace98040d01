"""Task metrics: the values of small hand-worked cases, the conventions (binary vs macro F1, ties), degenerate input."""

import numpy as np
import pytest

from gpt_hf.tasks.prediction_kinds import PREDICTION_KINDS


def test_classification_values_worked_by_hand():
    labels = [1, 1, 1, 0, 0, 0]
    predictions = [1, 1, 0, 0, 0, 1]  # tp 2, fp 1, fn 1, tn 2
    metrics = PREDICTION_KINDS["classification"].metrics(predictions, labels, num_labels=2)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))  # F1 of class 1
    assert metrics["mcc"] == pytest.approx((2 * 2 - 1 * 1) / np.sqrt(3 * 3 * 3 * 3))


def test_more_than_two_classes_use_macro_f1():
    labels = [0, 0, 1, 1, 2, 2]
    predictions = [0, 0, 1, 2, 2, 2]  # per class F1: 1, 2/3, 4/5
    metrics = PREDICTION_KINDS["classification"].metrics(predictions, labels, num_labels=3)
    assert metrics["f1"] == pytest.approx((1 + 2 / 3 + 4 / 5) / 3)


def test_correlations_average_ties():
    predictions, labels = [1.0, 2.0, 2.0, 4.0], [1.0, 3.0, 2.0, 4.0]
    metrics = PREDICTION_KINDS["regression"].metrics(predictions, labels, num_labels=1)
    x, y = np.array(predictions) - 2.25, np.array(labels) - 2.5
    assert metrics["pearson"] == pytest.approx(x @ y / np.sqrt((x @ x) * (y @ y)))
    ranks_x, ranks_y = np.array([1, 2.5, 2.5, 4]) - 2.5, np.array([1, 3, 2, 4]) - 2.5  # tied values share a rank
    assert metrics["spearman"] == pytest.approx(ranks_x @ ranks_y / np.sqrt((ranks_x @ ranks_x) * (ranks_y @ ranks_y)))


def test_degenerate_inputs_give_zero_not_nan():
    assert PREDICTION_KINDS["classification"].metrics([1, 1, 1], [1, 1, 1], num_labels=2)["mcc"] == 0.0
    assert PREDICTION_KINDS["regression"].metrics([1.0, 1.0], [0.0, 1.0], num_labels=1) == {
        "pearson": 0.0,
        "spearman": 0.0,
    }
    assert PREDICTION_KINDS["classification"].metrics([0, 0], [0, 0], num_labels=2)["f1"] == 0.0  # no positives


def test_multi_label_exact_match_and_micro_f1():
    labels = np.array([[1, 0, 1], [0, 1, 0]])
    predictions = np.array([[1, 0, 1], [1, 1, 0]])  # row 2 has one false positive
    metrics = PREDICTION_KINDS["multi_label"].metrics(predictions, labels, num_labels=3)
    assert metrics["exact_match"] == 0.5
    assert metrics["f1_micro"] == pytest.approx(2 * 3 / (2 * 3 + 1))


def test_every_prediction_kind_reads_scores_and_shows_its_predictions():
    logits = {
        "classification": np.array([[0.1, 2.0], [3.0, -1.0]]),
        "multi_label": np.array([[1.0, -1.0], [1.0, 2.0]]),
        "regression": np.array([[0.5], [-1.5]]),
    }
    shown = {"classification": ["yes", "no"], "multi_label": ["a", "a,b"], "regression": ["0.5", "-1.5"]}
    for name, kind in PREDICTION_KINDS.items():
        predictions = kind.predictions(logits[name])
        metrics = kind.metrics(predictions, predictions, num_labels=2)
        assert set(metrics) == set(kind.metric_names) and kind.default_metric in metrics
        id2label = {0: "no", 1: "yes"} if name == "classification" else {0: "a", 1: "b"}
        assert [kind.show(p, id2label) for p in predictions] == shown[name]
