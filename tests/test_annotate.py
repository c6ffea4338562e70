from pathlib import Path

import imageio_ffmpeg
import numpy as np
import psutil
import pytest

from recognition.annotate import AnnotatedVideos, draw_overlay, headline, output_size
from recognition.calibration import Calibration
from recognition.results import ModelResult

CLASSES = ("Diving", "Surfing", "Swing")


def browser_playable(path: Path) -> bool:
    """H.264 in yuv420p, with the index (moov) ahead of the data (mdat) for streaming."""
    meta = next(imageio_ffmpeg.read_frames(str(path)))
    data = path.read_bytes()
    return meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p") and data.find(b"moov") < data.find(b"mdat")


def test_output_size_is_even_and_capped_either_way_round():
    assert output_size(320, 240) == (320, 240)
    assert output_size(1920, 1080) == (640, 360)
    assert output_size(1080, 1920) == (360, 640)  # a phone held upright keeps its long side
    assert output_size(321, 241) == (320, 240)
    assert output_size(4000, 100) == (640, 16)


def test_overlay_draws_on_the_top_left_only():
    frame = np.full((240, 320, 3), 128, np.uint8)
    draw_overlay(frame, "lrcn", "Diving 90%", [("Diving", 0.9), ("Surfing", 0.07), ("Swing", 0.03)])
    assert (frame[:60, :100] != 128).any()
    assert (frame[200:, 200:] == 128).all()


@pytest.mark.parametrize("size", [(240, 320), (480, 854), (120, 160)])
def test_overlay_covers_the_same_share_of_any_frame(size: tuple[int, int]):
    """The app shows every video at about the same width, so the overlay scales with the frame to stay legible."""
    frame = np.full((*size, 3), 128, np.uint8)
    draw_overlay(frame, "convlstm", "HandstandPushups 55%",
                 [("HandstandPushups", 0.55), ("PushUps", 0.3), ("WallPushups", 0.1)])
    rows, columns = np.nonzero((frame != 128).any(axis=-1))
    assert 0.35 < (columns.max() + 1) / size[1] < 0.6
    assert 0.3 < (rows.max() + 1) / size[0] < 0.6


def test_the_headline_follows_the_segments_not_the_single_windows():
    windows = [(float(i), i + 3.2) for i in range(10)]
    probabilities = np.array([[0.8, 0.1, 0.1]] * 3 + [[0.1, 0.8, 0.1]] + [[0.8, 0.1, 0.1]] * 2
                             + [[0.1, 0.1, 0.8]] * 4)
    result = ModelResult.from_windows("lrcn", CLASSES, windows, probabilities, 0.1)
    assert [segment.label for segment in result.segments] == ["Diving", "Swing"]
    assert headline(result, 4.6) == "Diving 68%"  # in the odd Surfing window's middle: smoothed away
    assert headline(result, 7.0) == "Diving 68%" and headline(result, 7.2) == "Swing 80%"
    unsure = ModelResult.from_windows("lrcn", CLASSES, windows[:1], np.array([[0.4, 0.3, 0.3]]), 0.1,
                                      calibration=Calibration(known_threshold=0.5))
    assert headline(unsure, 1.0) == "Not a known action"


def test_annotated_videos_play_in_a_browser(synthetic_clip: Path, tmp_path: Path):
    windows = [(0.0, 3.0)]
    results = {
        name: ModelResult.from_windows(name, CLASSES, windows, np.array([[0.7, 0.2, 0.1]]), 0.1)
        for name in ("lrcn", "convlstm")
    }
    with AnnotatedVideos(synthetic_clip, list(results), tmp_path / "out") as videos:
        annotated = videos.write(results)
    for name, result in annotated.items():
        assert result.annotated_video == tmp_path / "out" / f"moving_square_{name}.mp4"
        assert browser_playable(result.annotated_video)
        meta = next(imageio_ffmpeg.read_frames(str(result.annotated_video)))
        assert meta["duration"] == pytest.approx(3.0, abs=0.15)


def test_a_stop_while_writing_ends_the_encoders_and_raises(synthetic_clip: Path, tmp_path: Path):
    """A request over its time limit stops mid-video: the error comes through and nothing is left running."""
    results = {
        name: ModelResult.from_windows(name, CLASSES, [(0.0, 3.0)], np.array([[0.7, 0.2, 0.1]]), 0.1)
        for name in ("lrcn", "convlstm")
    }

    def stop_at_one_second(stamp: float) -> None:
        if stamp >= 1.0:
            raise TimeoutError("time is up")

    with pytest.raises(TimeoutError):
        with AnnotatedVideos(synthetic_clip, list(results), tmp_path / "out") as videos:
            videos.write(results, on_frame=stop_at_one_second)
    assert not [child for child in psutil.Process().children(recursive=True) if "ffmpeg" in child.name()]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["moving_square_convlstm.mp4",
                                                                         "moving_square_lrcn.mp4"]
