"""Clip-level accuracy, as training and evaluation both compute it."""

import numpy as np

from recognition.metrics import accuracy_report, bootstrap_interval, clip_scores, top1


def test_clip_scores_average_windows_and_report_accuracy():
    windows = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8]])
    scores = clip_scores(windows, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(scores, [[0.6, 0.4], [0.2, 0.8]])
    report = accuracy_report(scores, np.array([0, 0]), ("a", "b"))
    assert report["top1"] == 0.5 and report["per_class"] == {"a": 0.5}


def _answers(right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip-level probabilities over two classes, 80 % sure, right where `right` says; every label 0."""
    probabilities = np.where(right[:, None], [[0.8, 0.2]], [[0.2, 0.8]])
    return probabilities, np.zeros(len(right), int)


def test_bootstrap_interval_brackets_the_figure_and_repeats():
    rng = np.random.default_rng(1)
    probabilities, labels = _answers(rng.random(200) < 0.8)
    clusters = np.arange(200)
    low, high = bootstrap_interval(top1, probabilities, labels, clusters)
    assert low < top1(probabilities, labels) < high and high - low < 0.15
    assert (low, high) == bootstrap_interval(top1, probabilities, labels, clusters)


def test_clips_that_err_together_widen_the_interval():
    """The same 200 answers, as 200 independent clips or as 20 scenes whose clips all share one fate."""
    scene_right = np.random.default_rng(2).random(20) < 0.8
    probabilities, labels = _answers(np.repeat(scene_right, 10))
    independent = bootstrap_interval(top1, probabilities, labels, np.arange(200))
    by_scene = bootstrap_interval(top1, probabilities, labels, np.repeat(np.arange(20), 10))
    assert by_scene[1] - by_scene[0] > 2 * (independent[1] - independent[0])
