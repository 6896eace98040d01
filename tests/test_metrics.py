"""Task metrics: the values of small hand-worked cases, the conventions (binary vs macro F1, ties), degenerate input."""

import numpy as np
import pytest

from gpt_hf.metrics import METRICS, compute_task_metrics, default_metric


def test_classification_values_worked_by_hand():
    labels = [1, 1, 1, 0, 0, 0]
    predictions = [1, 1, 0, 0, 0, 1]  # tp 2, fp 1, fn 1, tn 2
    metrics = compute_task_metrics("classification", predictions, labels, num_labels=2)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))  # F1 of class 1
    assert metrics["mcc"] == pytest.approx((2 * 2 - 1 * 1) / np.sqrt(3 * 3 * 3 * 3))


def test_more_than_two_classes_use_macro_f1():
    labels = [0, 0, 1, 1, 2, 2]
    predictions = [0, 0, 1, 2, 2, 2]  # per class F1: 1, 2/3, 4/5
    metrics = compute_task_metrics("classification", predictions, labels, num_labels=3)
    assert metrics["f1"] == pytest.approx((1 + 2 / 3 + 4 / 5) / 3)


def test_correlations_average_ties():
    predictions, labels = [1.0, 2.0, 2.0, 4.0], [1.0, 3.0, 2.0, 4.0]
    metrics = compute_task_metrics("regression", predictions, labels, num_labels=1)
    x, y = np.array(predictions) - 2.25, np.array(labels) - 2.5
    assert metrics["pearson"] == pytest.approx(x @ y / np.sqrt((x @ x) * (y @ y)))
    ranks_x, ranks_y = np.array([1, 2.5, 2.5, 4]) - 2.5, np.array([1, 3, 2, 4]) - 2.5  # tied values share a rank
    assert metrics["spearman"] == pytest.approx(ranks_x @ ranks_y / np.sqrt((ranks_x @ ranks_x) * (ranks_y @ ranks_y)))


def test_degenerate_inputs_give_zero_not_nan():
    assert compute_task_metrics("classification", [1, 1, 1], [1, 1, 1], num_labels=2)["mcc"] == 0.0
    assert compute_task_metrics("regression", [1.0, 1.0], [0.0, 1.0], num_labels=1) == {"pearson": 0.0,
                                                                                          "spearman": 0.0}
    assert compute_task_metrics("classification", [0, 0], [0, 0], num_labels=2)["f1"] == 0.0  # no positives


def test_multi_label_exact_match_and_micro_f1():
    labels = np.array([[1, 0, 1], [0, 1, 0]])
    predictions = np.array([[1, 0, 1], [1, 1, 0]])  # row 2 has one false positive
    metrics = compute_task_metrics("multi_label", predictions, labels, num_labels=3)
    assert metrics["exact_match"] == 0.5
    assert metrics["f1_micro"] == pytest.approx(2 * 3 / (2 * 3 + 1))


def test_every_prediction_kind_has_metrics_and_a_default_among_them():
    for kind in METRICS:
        assert default_metric(kind) in compute_task_metrics(kind, [1, 0], [1, 0], num_labels=2) or kind == "multi_label"
    assert default_metric("multi_label") in compute_task_metrics("multi_label", np.eye(2), np.eye(2), num_labels=2)
