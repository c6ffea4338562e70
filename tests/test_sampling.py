import numpy as np
import pytest

from recognition.metadata import SamplingSpec
from recognition.sampling import plan_samples, window_for_time

SPEC = SamplingSpec(num_frames=16, window_seconds=3.2, hop_seconds=1.0)


def test_short_clip_gets_one_window_over_its_whole_length():
    plan = plan_samples(2.0, SPEC)
    assert len(plan.windows) == 1
    assert len(plan.times) == 16
    assert plan.times[0] > 0 and plan.times[-1] < 2.0
    np.testing.assert_allclose(np.diff(plan.times), 2.0 / 16)
    assert (plan.windows[0].start_s, plan.windows[0].end_s) == (0.0, 2.0)


def test_clip_exactly_one_window_long_matches_the_grid():
    plan = plan_samples(3.2, SPEC)
    assert len(plan.windows) == 1
    np.testing.assert_allclose(np.diff(plan.times), SPEC.window_seconds / SPEC.num_frames)


def test_long_video_gets_sliding_windows_with_a_one_second_hop():
    plan = plan_samples(10.0, SPEC)
    starts = [w.start_s for w in plan.windows]
    np.testing.assert_allclose(np.diff(starts[:-1]), 1.0)
    assert all(w.end_s - w.start_s == pytest.approx(3.2) for w in plan.windows)
    assert plan.windows[-1].end_s == pytest.approx(10.0)


def test_windows_share_one_time_grid_at_the_training_spacing():
    plan = plan_samples(30.0, SPEC)
    indices = plan.window_indices()
    assert indices.shape == (len(plan.windows), 16)
    assert indices.max() == len(plan.times) - 1
    spacing = np.diff(plan.times[indices], axis=1)
    np.testing.assert_allclose(spacing, SPEC.window_seconds / SPEC.num_frames)


def test_training_and_inference_use_the_same_spacing_for_long_clips():
    """The tutorial's mismatch (whole-clip spread in training, consecutive frames at inference) can't occur."""
    for duration in (4.0, 7.3, 60.0):
        plan = plan_samples(duration, SPEC)
        np.testing.assert_allclose(np.diff(plan.times), 0.2)


def test_window_for_time_picks_the_nearest_centre():
    plan = plan_samples(10.0, SPEC)
    assert window_for_time(plan.windows, 0.0) == 0
    assert window_for_time(plan.windows, 10.0) == len(plan.windows) - 1


def test_zero_duration_is_rejected():
    with pytest.raises(ValueError, match="duration must be positive"):
        plan_samples(0.0, SPEC)
