"""Local metrics agree with scikit-learn and scipy on fixed inputs."""

import numpy as np
import pytest

from gpt_hf.metrics import accuracy, compute_task_metrics, f1, matthews_correlation, pearson, spearman

sklearn_metrics = pytest.importorskip("sklearn.metrics")
stats = pytest.importorskip("scipy.stats")

RNG = np.random.default_rng(0)
BINARY = (RNG.integers(0, 2, 200), RNG.integers(0, 2, 200))
MULTI = (RNG.integers(0, 4, 300), RNG.integers(0, 4, 300))
SCORES = (RNG.normal(size=150), RNG.normal(size=150))
TIED = (np.array([1, 2, 2, 3, 3, 3, 5.0]), np.array([2, 1, 2, 2, 4, 4, 4.0]))


def test_classification_metrics_match_sklearn():
    for predictions, labels in (BINARY, MULTI):
        assert accuracy(predictions, labels) == pytest.approx(sklearn_metrics.accuracy_score(labels, predictions))
        assert matthews_correlation(predictions, labels) == pytest.approx(
            sklearn_metrics.matthews_corrcoef(labels, predictions))
    assert f1(*BINARY) == pytest.approx(sklearn_metrics.f1_score(BINARY[1], BINARY[0]))
    assert f1(*MULTI, average="macro") == pytest.approx(sklearn_metrics.f1_score(MULTI[1], MULTI[0], average="macro"))


def test_correlations_match_scipy_including_ties():
    for predictions, labels in (SCORES, TIED):
        assert pearson(predictions, labels) == pytest.approx(stats.pearsonr(predictions, labels)[0])
        assert spearman(predictions, labels) == pytest.approx(stats.spearmanr(predictions, labels)[0])


def test_degenerate_inputs_do_not_divide_by_zero():
    assert matthews_correlation([1, 1, 1], [1, 1, 1]) == 0.0
    assert pearson([1.0, 1.0], [0.0, 1.0]) == 0.0


def test_compute_task_metrics_keys():
    assert set(compute_task_metrics("classification", *BINARY, num_labels=2)) == {"accuracy", "mcc", "f1"}
    assert set(compute_task_metrics("regression", *SCORES, num_labels=1)) == {"pearson", "spearman"}
    multi_hot = RNG.integers(0, 2, (20, 3))
    assert compute_task_metrics("multi_label", multi_hot, multi_hot, num_labels=3)["exact_match"] == 1.0
