"""Segments read from window timelines: synthetic timelines where the answer is known, and a real long video."""

from pathlib import Path

import numpy as np
import pytest

from bench.inputs import join_actions
from recognition.calibration import Calibration
from recognition.segments import find_segments, smoothed_labels
from tests.helpers import UCF14

CLASSES = ("Diving", "PullUps", "Surfing", "Swing")
HOP_S, WINDOW_S = 1.0, 3.2


def timeline(*labels: int, confidence: float = 0.8) -> tuple[list[tuple[float, float]], np.ndarray]:
    """Windows every second, each sure by `confidence` of its class and spreading the rest evenly."""
    windows = [(i * HOP_S, i * HOP_S + WINDOW_S) for i in range(len(labels))]
    probabilities = np.full((len(labels), len(CLASSES)), (1 - confidence) / (len(CLASSES) - 1))
    probabilities[np.arange(len(labels)), labels] = confidence
    return windows, probabilities


def spans(segments) -> list[tuple[float, float, str]]:
    return [(segment.start_s, segment.end_s, segment.label) for segment in segments]


def test_a_clean_switch_is_cut_halfway_between_the_window_centres():
    windows, probabilities = timeline(0, 0, 0, 0, 0, 1, 1, 1, 1, 1)
    segments = find_segments(windows, probabilities, CLASSES, duration_s=12.5)
    # the last Diving window is centred at 5.6 s, the first PullUps one at 6.6 s
    assert spans(segments) == [(0.0, pytest.approx(6.1), "Diving"), (pytest.approx(6.1), 12.5, "PullUps")]
    assert [segment.confidence for segment in segments] == pytest.approx([0.8, 0.8])


def test_one_odd_window_does_not_split_an_action():
    windows, probabilities = timeline(2, 2, 2, 2, 3, 2, 2, 2, 2, confidence=0.95)
    segments = find_segments(windows, probabilities, CLASSES, duration_s=11.2)
    assert spans(segments) == [(0.0, 11.2, "Surfing")]
    assert segments[0].confidence == pytest.approx((8 * 0.95 + 0.05 / 3) / 9)


def test_a_short_real_action_is_kept():
    windows, probabilities = timeline(0, 0, 0, 0, 0, 3, 3, 3, 1, 1, 1, 1, 1, confidence=0.7)
    segments = find_segments(windows, probabilities, CLASSES, duration_s=15.2)
    assert [segment.label for segment in segments] == ["Diving", "Swing", "PullUps"]
    assert segments[1].start_s == pytest.approx(6.1) and segments[1].end_s == pytest.approx(9.1)


def test_a_single_action_clip_gives_one_segment_over_the_whole_video():
    windows, probabilities = timeline(1, confidence=0.6)
    segments = find_segments(windows, probabilities, CLASSES, duration_s=2.4)
    assert spans(segments) == [(0.0, 2.4, "PullUps")]


def test_a_noisy_single_action_stays_one_segment():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(len(CLASSES)), size=20)
    probabilities[:, 3] += 0.5
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    windows = [(float(i), i + WINDOW_S) for i in range(20)]
    assert [segment.label for segment in find_segments(windows, probabilities, CLASSES, 22.2)] == ["Swing"]


def test_segments_are_known_when_their_confidence_and_familiarity_reach_the_thresholds():
    windows, probabilities = timeline(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0)
    probabilities[4:8] = [0.1, 0.4, 0.25, 0.25]
    familiarity = np.array([0.8] * 8 + [0.2] * 4)
    calibration = Calibration(known_threshold=0.5, familiarity_threshold=0.5)
    segments = find_segments(windows, probabilities, CLASSES, 14.2, calibration, familiarity)
    assert [(s.label, s.known) for s in segments] == [("Diving", True), ("PullUps", False), ("Diving", False)]
    assert all(segment.known for segment in find_segments(windows, probabilities, CLASSES, 14.2))


def test_smoothing_pays_for_a_switch_only_when_the_windows_make_up_for_it():
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.9, 0.1]])
    assert smoothed_labels(probabilities, switch_cost=0.5).tolist() == [0, 0, 0, 0]
    assert smoothed_labels(probabilities, switch_cost=0.0).tolist() == [0, 0, 1, 0]


LONG_VIDEO_CLIPS = ("Swing/v_Swing_g21_c01.mp4", "Diving/v_Diving_g21_c02.mp4",
                    "HandstandPushups/v_HandStandPushups_g21_c03.mp4", "Surfing/v_Surfing_g21_c01.mp4",
                    "WallPushups/v_WallPushups_g21_c03.mp4", "SkyDiving/v_SkyDiving_g21_c01.mp4")
"""Clips of g21-g25 that both models recognise on their own: joined, they test how the timeline is cut."""


def join_long_video(video: Path) -> list[tuple[float, float, str]]:
    return join_actions([UCF14 / clip for clip in LONG_VIDEO_CLIPS], video)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[float, float, str]]]:
    """Clips of g21-g25 of several actions joined into one video, with each action's start, end and class."""
    if not UCF14.is_dir():
        pytest.skip(f"needs the real UCF clips in {UCF14} (not in a fresh clone)")
    video = tmp_path_factory.mktemp("long") / "workout.mp4"
    return video, join_long_video(video)


@pytest.mark.slow
def test_a_long_video_of_several_actions_is_told_in_segments(recognizer, long_video):
    video, actions = long_video
    recognition = recognizer.recognize(video)
    for name, result in recognition.models.items():
        found = [result.segment_at((start + end) / 2).label for start, end, _ in actions]
        assert sum(f == label for f, (_, _, label) in zip(found, actions)) >= len(actions) - 1, (name, found)
        assert len(result.segments) <= 2 * len(actions), (name, result.segments)
        assert result.segments[0].start_s == 0 and result.segments[-1].end_s == recognition.duration_s
        assert all(a.end_s == b.start_s for a, b in zip(result.segments, result.segments[1:]))
