from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from recognition.video import VideoError, iter_frames, probe, read_samples, to_square_rgb
from tests.conftest import write_clip


def test_probe_reads_fps_size_and_duration(synthetic_clip: Path):
    info = probe(synthetic_clip)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(10.0)
    assert info.frame_count == 30
    assert info.duration_s == pytest.approx(3.0)


def test_frames_are_picked_by_time_and_resized(synthetic_clip: Path):
    times = np.array([0.05, 1.05, 2.95])
    frames = read_samples(synthetic_clip, times, [32])[32]
    assert frames.shape == (3, 32, 32, 3) and frames.dtype == np.uint8
    gray_levels = frames[:, 2, 2, 0].astype(int)
    np.testing.assert_allclose(gray_levels, [0, 80, 232], atol=6)


def test_unsorted_times_come_back_in_the_order_asked(synthetic_clip: Path):
    times = np.array([2.95, 0.05])
    frames = read_samples(synthetic_clip, times, [16])[16]
    assert frames[0, 1, 1, 0] > frames[1, 1, 1, 0]


def test_times_past_the_end_repeat_the_last_frame(synthetic_clip: Path):
    frames = read_samples(synthetic_clip, np.array([2.95, 5.0]), [16])[16]
    np.testing.assert_array_equal(frames[0], frames[1])


def test_several_sizes_come_from_one_decode(synthetic_clip: Path):
    frames = read_samples(synthetic_clip, np.array([0.5, 1.5]), [16, 24])
    assert frames[16].shape == (2, 16, 16, 3) and frames[24].shape == (2, 24, 24, 3)


def test_timestamps_rise(synthetic_clip: Path):
    stamps = [stamp for stamp, _ in iter_frames(synthetic_clip)]
    assert len(stamps) == 30
    assert np.all(np.diff(stamps) > 0)
    assert stamps[-1] == pytest.approx(2.9, abs=0.05)


@pytest.mark.parametrize("codec, suffix", [("libx264", ".mp4"), ("libvpx-vp9", ".webm"), ("libx264", ".mov")])
def test_common_containers_and_codecs_decode(tmp_path: Path, codec: str, suffix: str):
    path = tmp_path / f"clip{suffix}"
    writer = imageio_ffmpeg.write_frames(str(path), (64, 48), fps=12, codec=codec, macro_block_size=1,
                                         ffmpeg_log_level="error")
    writer.send(None)
    for i in range(24):
        writer.send(np.full((48, 64, 3), i * 10, np.uint8))
    writer.close()
    info = probe(path)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert read_samples(path, np.array([1.0]), [8])[8].shape == (1, 8, 8, 3)


def test_xvid_avi_decodes(tmp_path: Path):
    writer = cv2.VideoWriter(str(tmp_path / "x.avi"), cv2.VideoWriter_fourcc(*"XVID"), 10, (64, 48))
    if not writer.isOpened():
        pytest.skip("this OpenCV build has no Xvid encoder to make the test clip")
    writer.release()
    path = write_clip(tmp_path / "xvid.avi", fourcc="XVID")
    assert probe(path).frame_count == 30


def test_square_resize_keeps_the_whole_view():
    frame = np.zeros((40, 80, 3), np.uint8)
    frame[:, :40] = (255, 0, 0)
    square = to_square_rgb(frame, 20)
    assert square.shape == (20, 20, 3)
    assert square[10, 2].tolist() == [0, 0, 255]
    assert square[10, 17].tolist() == [0, 0, 0]


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"this is not a video\n" * 20, "not a video"),
])
def test_bad_files_raise_a_clear_error(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError, match=message):
        probe(path)


def test_missing_file_raises_a_clear_error(tmp_path: Path):
    with pytest.raises(VideoError, match="no such file"):
        probe(tmp_path / "missing.mp4")
