"""Browser-playable copies: H.264 in mp4, even dimensions, the source left alone."""

import hashlib
from pathlib import Path

import cv2
import pytest

from recognition.preview import browser_playable_copy
from recognition.video import VideoError, probe
from tests.helpers import write_clip


def _fourcc(path: Path) -> str:
    capture = cv2.VideoCapture(str(path))
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    capture.release()
    return code.to_bytes(4, "little").decode()


def test_xvid_avi_becomes_h264_mp4_and_the_source_is_untouched(tmp_path: Path):
    source = write_clip(tmp_path / "upload.avi", frames=40, size=(95, 71), fourcc="XVID")
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    copy = browser_playable_copy(source, tmp_path / "preview.mp4")
    info = probe(copy)
    assert _fourcc(copy) in ("avc1", "h264")
    assert (info.width % 2, info.height % 2) == (0, 0) and info.height == 70
    assert info.frame_count == 40
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("size, expected", [((640, 960), (320, 480)), ((4000, 100), (854, 22))])
def test_large_videos_are_scaled_to_fit(tmp_path: Path, size: tuple[int, int], expected: tuple[int, int]):
    source = write_clip(tmp_path / "large.avi", frames=5, size=size)
    info = probe(browser_playable_copy(source, tmp_path / "preview.mp4", max_size=(854, 480)))
    assert (info.width, info.height) == expected


def test_undecodable_input_is_a_video_error_and_leaves_nothing(tmp_path: Path):
    source = tmp_path / "notes.mp4"
    source.write_text("not a video")
    with pytest.raises(VideoError, match="notes.mp4: not a video ffmpeg can decode"):
        browser_playable_copy(source, tmp_path / "preview.mp4")
    assert not (tmp_path / "preview.mp4").exists()


def test_the_copy_never_overwrites_its_source(tmp_path: Path):
    source = write_clip(tmp_path / "clip.mp4", fourcc="mp4v")
    with pytest.raises(ValueError, match="must not overwrite its source"):
        browser_playable_copy(source, source)
