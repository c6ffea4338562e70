"""Clip-level accuracy, as training and evaluation both compute it."""

import numpy as np

from recognition.metrics import accuracy_report, clip_scores


def test_clip_scores_average_windows_and_report_accuracy():
    windows = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8]])
    scores = clip_scores(windows, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(scores, [[0.6, 0.4], [0.2, 0.8]])
    report = accuracy_report(scores, np.array([0, 0]), ("a", "b"))
    assert report["top1"] == 0.5 and report["per_class"] == {"a": 0.5}
