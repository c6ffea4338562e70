"""Calibration: temperature scaling and the "known" threshold, on synthetic scores with a known answer."""

import numpy as np
import pytest

from recognition.calibration import Calibration, clip_probabilities, fit_temperature, fused, tempered
from recognition.metrics import expected_calibration_error, reliability


def overconfident_clips(count: int = 400, classes: int = 5, seed: int = 0):
    """Clips whose windows are sure of an answer that is right only about 60 % of the time."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, count)
    answers = np.where(rng.random(count) < 0.6, labels, rng.integers(0, classes, count))
    windows = []
    for answer in answers:
        logits = rng.normal(0, 0.3, (4, classes))
        logits[:, answer] += 4.0
        windows.append(tempered(np.exp(logits), 1.0))
    return windows, labels, rng.integers(21, 26, count)


def test_temperature_keeps_the_ranking_and_one_changes_nothing():
    probabilities = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    assert np.allclose(tempered(probabilities, 1.0), probabilities)
    for temperature in (0.5, 2.0):
        scaled = tempered(probabilities, temperature)
        assert np.allclose(scaled.sum(axis=1), 1.0)
        assert (scaled.argmax(axis=1) == probabilities.argmax(axis=1)).all()
    assert tempered(probabilities, 0.5).max() > probabilities.max() > tempered(probabilities, 2.0).max()
    assert np.allclose(tempered(tempered(probabilities, 0.5), 2.0), probabilities)


def test_an_overconfident_model_gets_a_temperature_above_one_and_a_smaller_error():
    windows, labels, groups = overconfident_clips()
    assert fit_temperature(windows, labels) > 1.5
    calibration = Calibration.fit(windows, labels, groups)
    fitted = calibration.fitted_on
    assert fitted["ece_raw"] > 0.25
    assert fitted["ece_calibrated"] < 0.06 and fitted["ece_calibrated_leave_one_group_out"] < 0.08
    assert fitted["groups"] == [21, 22, 23, 24, 25] and fitted["clips"] == 400


def test_the_threshold_keeps_the_asked_share_known():
    windows, labels, groups = overconfident_clips()
    calibration = Calibration.fit(windows, labels, groups, known_share=0.9)
    confidences = clip_probabilities(windows, calibration.temperature).max(axis=1)
    known = np.array([calibration.is_known(c) for c in confidences])
    assert known.mean() == pytest.approx(0.9, abs=0.01)
    assert calibration.fitted_on["known_share"] == pytest.approx(known.mean())


def test_familiarity_lets_go_its_share_and_confidence_the_rest():
    windows, labels, groups = overconfident_clips()
    clip_familiarity = np.random.default_rng(1).uniform(0.5, 1.0, len(windows))
    familiarity = [np.full(len(w), f) for w, f in zip(windows, clip_familiarity)]
    calibration = Calibration.fit(windows, labels, groups, familiarity, known_share=0.9, familiarity_share=0.8)
    confidences = clip_probabilities(windows, calibration.temperature).max(axis=1)
    unfamiliar = clip_familiarity < calibration.familiarity_threshold
    known = np.array([calibration.is_known(c, f) for c, f in zip(confidences, clip_familiarity)])
    assert unfamiliar.mean() == pytest.approx(0.08, abs=0.01)
    assert known.mean() == pytest.approx(0.9, abs=0.01) and not known[unfamiliar].any()


def pose_answers(labels: np.ndarray, windows: list[np.ndarray], right: float, seed: int = 2) -> list[np.ndarray]:
    """A second stream's windows, right `right` of the time, its mistakes independent of the model's."""
    rng = np.random.default_rng(seed)
    classes = windows[0].shape[1]
    answers = np.where(rng.random(len(labels)) < right, labels, rng.integers(0, classes, len(labels)))
    streams = []
    for answer, clip in zip(answers, windows):
        logits = rng.normal(0, 0.3, clip.shape)
        logits[:, answer] += 4.0
        streams.append(tempered(np.exp(logits), 1.0))
    return streams


def test_a_pose_stream_that_knows_something_gets_a_weight_and_raises_top1():
    windows, labels, groups = overconfident_clips()
    calibration = Calibration.fit(windows, labels, groups, pose=pose_answers(labels, windows, right=0.7))
    fitted = calibration.fitted_on
    assert 0 < calibration.pose_weight <= 0.6
    assert fitted["top1"] > fitted["top1_without_pose"] + 0.05
    assert fitted["top1_leave_one_group_out"] > fitted["top1_without_pose"]


def test_a_pose_stream_of_noise_gets_no_weight():
    windows, labels, groups = overconfident_clips()
    calibration = Calibration.fit(windows, labels, groups, pose=pose_answers(labels, windows, right=0.0))
    assert calibration.pose_weight == 0.0


def test_applying_a_pose_weight_fuses_before_the_temperature():
    model = np.array([[0.7, 0.2, 0.1]])
    pose = np.array([[0.1, 0.8, 0.1]])
    calibration = Calibration(temperature=2.0, pose_weight=0.5)
    assert np.allclose(calibration.apply(model, pose), tempered(fused(model, pose, 0.5), 2.0))
    assert np.allclose(fused(model, pose, 0.0), model) and np.allclose(fused(model, pose, 1.0), pose)
    with pytest.raises(ValueError, match="pose"):
        calibration.apply(model)
    assert np.allclose(Calibration(temperature=2.0).apply(model, pose), tempered(model, 2.0))


def test_reliability_bins_and_error_of_a_perfectly_calibrated_set():
    probabilities = np.array([[0.75, 0.25]] * 4 + [[0.25, 0.75]] * 4)
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    rows = reliability(probabilities, labels)
    assert len(rows) == 1 and rows[0]["clips"] == 8 and rows[0]["accuracy"] == 0.75
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.0)
    assert expected_calibration_error(probabilities, 1 - labels) == pytest.approx(0.5)


def test_a_calibration_survives_the_metadata_round_trip(tmp_path):
    from recognition.metadata import ModelSpec, SamplingSpec

    calibration = Calibration(0.8, 0.4, 0.6, fitted_on={"groups": [21], "clips": 3})
    spec = ModelSpec("lrcn", "test", ("a", "b"), 32, SamplingSpec(), calibration=calibration,
                     aspect_range=(4 / 3, 2.4))
    spec.save(tmp_path / "m.json")
    loaded = ModelSpec.load(tmp_path / "m.json")
    assert loaded.calibration == calibration and loaded.calibration.fitted_on == {"groups": [21], "clips": 3}
    assert loaded.frame_format.aspect_range == (4 / 3, 2.4)
