"""Optical flow for the motion stream: direction, zero start, camera motion taken away, and batching."""

import dataclasses

import cv2
import numpy as np

from recognition.motion import FlowTracker, MotionSpec, clip_flow

SPEC = MotionSpec(flow_size=112, field_size=56, subtract_camera_motion=False)


def moving_square(steps: int, dx: int, dy: int, size: int = 224) -> np.ndarray:
    """RGB frames of a textured square that moves (dx, dy) pixels per frame over a dark background."""
    texture = np.random.default_rng(0).integers(80, 256, (48, 48, 3), np.uint8)
    frames = np.full((steps, size, size, 3), 20, np.uint8)
    for index in range(steps):
        top, left = 80 + index * dy, 80 + index * dx
        frames[index, top : top + 48, left : left + 48] = texture
    return frames


def mean_motion(field: np.ndarray) -> np.ndarray:
    """Average (dx, dy) where the field moves at all."""
    moving = np.linalg.norm(field, axis=-1) > 0.5
    return field[moving].mean(axis=0)


def test_first_field_is_zero_and_later_ones_follow_the_motion():
    fields = clip_flow(moving_square(4, dx=8, dy=0), SPEC)
    assert fields.shape == (4, 56, 56, 2) and fields.dtype == np.float32
    assert not fields[0].any()
    dx, dy = mean_motion(fields[2])
    assert dx > 1.0 and abs(dy) < 0.3 * dx  # 8 px at 224 is 2 px in a 56-px field


def test_upward_motion_has_negative_dy():
    dx, dy = mean_motion(clip_flow(moving_square(3, dx=0, dy=-8), SPEC)[1])
    assert dy < -1.0 and abs(dx) < 0.3 * abs(dy)


def test_batches_give_the_same_fields_as_one_pass():
    frames = moving_square(6, dx=6, dy=4)
    tracker = FlowTracker(SPEC)
    pieces = np.concatenate([tracker.fields(frames[:2]), tracker.fields(frames[2:5]), tracker.fields(frames[5:])])
    np.testing.assert_array_equal(pieces, clip_flow(frames, SPEC))


def test_a_still_video_has_no_motion():
    frames = np.repeat(moving_square(1, 0, 0), 5, axis=0)
    assert np.abs(clip_flow(frames, SPEC)).max() < 1e-3


def panning_shot(steps: int, pan: int, size: int = 224) -> np.ndarray:
    """A textured scene the camera pans across by `pan` px a frame, with a square in it that rises 8 px a frame."""
    rng = np.random.default_rng(1)
    scene = cv2.GaussianBlur(rng.integers(0, 256, (size, size + steps * pan, 3), np.uint8), (5, 5), 0)
    texture = rng.integers(80, 256, (48, 48, 3), np.uint8)
    frames = []
    for index in range(steps):
        world = scene.copy()
        top, left = 120 - index * 8, 90 + index * pan
        world[top : top + 48, left : left + 48] = texture
        frames.append(world[:, index * pan : index * pan + size])
    return np.stack(frames)


def test_camera_motion_is_taken_away_and_the_body_motion_kept():
    frames = panning_shot(3, pan=6)
    plain = clip_flow(frames, SPEC)[2]
    steady = clip_flow(frames, dataclasses.replace(SPEC, subtract_camera_motion=True))[2]
    background = (slice(0, 14), slice(None))  # the rows above the square's path: only the pan moves them
    assert np.median(plain[background][..., 0]) < -1.0  # the scene slides left as the camera pans right
    assert np.abs(np.median(steady[background], axis=(0, 1))).max() < 0.3
    square = (slice(27, 37), slice(24, 33))  # inside the square, in the 56-px field
    assert np.median(steady[square][..., 1]) < -1.0  # it still rises
