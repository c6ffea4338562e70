import dataclasses
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import psutil
import pytest

from recognition.video import (FrameFormat, SampleStream, VideoError, content_box, iter_frames, probe, read_samples,
                               to_square_rgb)
from tests.helpers import pattern_clip, write_clip
from tests.real_world import CODECS, REFUSALS


def test_probe_reads_fps_size_and_duration(synthetic_clip: Path):
    info = probe(synthetic_clip)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(10.0)
    assert info.frame_count == 30
    assert info.duration_s == pytest.approx(3.0)


def test_frames_are_picked_by_time_and_resized(synthetic_clip: Path):
    times = np.array([0.05, 1.05, 2.95])
    frames = read_samples(synthetic_clip, times, [FrameFormat(32)])[FrameFormat(32)]
    assert frames.shape == (3, 32, 32, 3) and frames.dtype == np.uint8
    gray_levels = frames[:, 2, 2, 0].astype(int)
    np.testing.assert_allclose(gray_levels, [0, 80, 232], atol=6)


def test_unsorted_times_come_back_in_the_order_asked(synthetic_clip: Path):
    times = np.array([2.95, 0.05])
    frames = read_samples(synthetic_clip, times, [FrameFormat(16)])[FrameFormat(16)]
    assert frames[0, 1, 1, 0] > frames[1, 1, 1, 0]


def test_times_past_the_end_repeat_the_last_frame(synthetic_clip: Path):
    frames = read_samples(synthetic_clip, np.array([2.95, 5.0]), [FrameFormat(16)])[FrameFormat(16)]
    np.testing.assert_array_equal(frames[0], frames[1])


def test_several_sizes_come_from_one_decode(synthetic_clip: Path):
    frames = read_samples(synthetic_clip, np.array([0.5, 1.5]), [FrameFormat(16), FrameFormat(24)])
    assert frames[FrameFormat(16)].shape == (2, 16, 16, 3) and frames[FrameFormat(24)].shape == (2, 24, 24, 3)


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
    assert read_samples(path, np.array([1.0]), [FrameFormat(8)])[FrameFormat(8)].shape == (1, 8, 8, 3)


def test_xvid_avi_decodes(tmp_path: Path):
    writer = cv2.VideoWriter(str(tmp_path / "x.avi"), cv2.VideoWriter_fourcc(*"XVID"), 10, (64, 48))
    if not writer.isOpened():
        pytest.skip("this OpenCV build has no Xvid encoder to make the test clip")
    writer.release()
    path = write_clip(tmp_path / "xvid.avi", fourcc="XVID")
    assert probe(path).frame_count == 30


def test_a_portrait_frame_is_padded_not_squeezed():
    """A disc in a 9:16 frame keeps the shape it would have in a 4:3 frame, as in training; the sides mirror it."""
    frame = np.full((320, 180, 3), 60, np.uint8)
    cv2.circle(frame, (90, 160), 60, (255, 255, 255), -1)
    square = to_square_rgb(frame, 96, (4 / 3, 2.4))
    content_width = round(96 * (180 / 320) / (4 / 3))
    left = (96 - content_width) // 2
    middle = square[:, left : left + content_width, 0]
    lit = np.argwhere(middle > 128)
    height, width = np.ptp(lit, axis=0) + 1
    # padded to 4:3 and scaled to the square as in training: a disc becomes 3/4 as wide as tall, not 3/16
    assert width / height == pytest.approx(0.75, abs=0.08)
    assert np.array_equal(square[:, left - 1, 0], square[:, left + 1, 0])  # mirrored at the edge
    assert square[:, :3].min() >= 55  # no black bars


def test_shapes_inside_the_range_are_scaled_as_in_training():
    frame = np.random.default_rng(0).integers(0, 256, (240, 320, 3), np.uint8)
    assert np.array_equal(to_square_rgb(frame, 64, (4 / 3, 2.4)), to_square_rgb(frame, 64))
    wide = np.zeros((100, 400, 3), np.uint8)
    wide[:50] = 200
    padded = to_square_rgb(wide, 64, (4 / 3, 2.4))  # 4:1 -> 2.4:1, padded above and below
    rows = padded[:, 32, 0]
    content_height = round(64 * 2.4 / 4)
    top = (64 - content_height) // 2
    assert rows[top + 2] == 200 and rows[top + content_height - 3] == 0
    assert rows[top - 3] == 200 and rows[top + content_height + 2] == 0  # mirrored, not black


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


@pytest.mark.parametrize("name, message", [
    ("empty", "the file is empty"),
    ("text", "not a video that can be read"),
    ("html", "not a video that can be read"),
    ("truncated", "not a video that can be read (the file is corrupt, cut short"),
    ("audio_m4a", "is an audio file, not a video"),
    ("audio_wav", "is an audio file, not a video"),
    ("image_png", "is a still image, not a video"),
    ("image_jpg", "is a still image, not a video"),
])
def test_broken_inputs_get_one_clear_sentence(odd_files: dict[str, Path], name: str, message: str):
    with pytest.raises(VideoError) as error:
        probe(odd_files[name])
    assert str(error.value).startswith(f"{odd_files[name].name}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_rotation_metadata_is_honoured(odd_files: dict[str, Path]):
    info = probe(odd_files["rotated"])
    assert (info.width, info.height) == (240, 320)
    assert next(iter_frames(odd_files["rotated"]))[1].shape == (320, 240, 3)


def test_variable_frame_rate_frames_are_picked_by_timestamp(odd_files: dict[str, Path]):
    """Frames 20-69 are dropped, so 0.8 s to 2.8 s shows frame 19 held on screen."""
    path = odd_files["variable_rate"]
    assert probe(path).duration_s == pytest.approx(4.0, abs=0.1)
    stamps = [stamp for stamp, _ in iter_frames(path)]
    assert stamps[20] - stamps[19] == pytest.approx(2.04, abs=0.01)
    frames = read_samples(path, np.array([0.77, 2.0, 2.79, 2.81]), [FrameFormat(32)])[FrameFormat(32)]
    np.testing.assert_array_equal(frames[0], frames[1])
    np.testing.assert_array_equal(frames[1], frames[2])
    assert not np.array_equal(frames[2], frames[3])


def test_4k_frames_are_downscaled_as_they_are_decoded(odd_files: dict[str, Path]):
    frames = read_samples(odd_files["4k"], np.linspace(0, 0.9, 10), [FrameFormat(224, crop_borders=True)])
    assert frames[FrameFormat(224, crop_borders=True)].shape == (10, 224, 224, 3) and len(frames) == 1


def test_a_file_that_ends_early_says_where(odd_files: dict[str, Path]):
    info = probe(odd_files["truncated_streamable"])
    stream = SampleStream(odd_files["truncated_streamable"], np.array([0.5, 3.5]), [FrameFormat(16)])
    list(stream)
    assert info.duration_s == pytest.approx(4.0) and stream.last_frame_s < 3.0


@pytest.mark.parametrize("padding", ["pad=320:240:0:30", "pad=400:180:40:0", "pad=400:240:40:30"],
                         ids=["letterbox", "pillarbox", "both"])
def test_black_borders_are_cut_before_resizing(tmp_path: Path, padding: str):
    """A picture inside black bars reaches a cropping model as the picture alone."""
    plain = pattern_clip(tmp_path / "plain.mp4", "320x180")
    boxed = pattern_clip(tmp_path / "boxed.mp4", "320x180", 4.0, "-vf", padding)
    times = np.linspace(0.1, 3.9, 20)
    whole, cropped = FrameFormat(64), FrameFormat(64, crop_borders=True)
    expected = read_samples(plain, times, [whole])[whole].astype(int)
    frames = read_samples(boxed, times, [whole, cropped])
    assert np.abs(frames[cropped] - expected).mean() < 4
    assert np.abs(frames[whole] - expected).mean() > 15


def test_a_dark_scene_is_not_cropped_to_a_sliver():
    frames = [np.full((100, 200, 3), 10, np.uint8) for _ in range(3)]
    frames[1][48:52, 98:102] = 255
    assert content_box(frames) == (slice(30, 70), slice(60, 140))


def test_a_black_picture_is_left_whole():
    assert content_box([np.zeros((48, 64, 3), np.uint8)]) == (slice(0, 48), slice(0, 64))


def test_borders_are_found_alike_whatever_the_batch_size(tmp_path: Path):
    """Borders are estimated per chunk of samples, so training (large batches) and inference agree."""
    path = tmp_path / "bars_then_none.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(40):
        frame = np.full((48, 64, 3), 128, np.uint8)
        frame[20:28, i : i + 8] = 255
        if i < 20:
            frame[:8], frame[40:] = 0, 0
        writer.write(frame)
    writer.release()
    times, cropped = (np.arange(40) + 0.5) / 10, FrameFormat(16, crop_borders=True)
    small = np.concatenate([b[cropped] for b in SampleStream(path, times, [cropped], batch_size=5)])
    large = np.concatenate([b[cropped] for b in SampleStream(path, times, [cropped], batch_size=32)])
    np.testing.assert_array_equal(small, large)
    assert small[0, 0].mean() > 100, "the first chunk, all barred, is cropped"
    assert small[16, 0].mean() < 60, "the second chunk is partly without bars, so it keeps them whole"


@pytest.mark.parametrize("name", list(CODECS))
def test_every_common_format_decodes_with_the_decoder_its_probe_chose(synthetic_codec_files: dict[str, Path],
                                                                      name: str):
    """AV1 goes to ffmpeg (OpenCV's wheel can't decode it); the frames match the source's, picked by time."""
    path = synthetic_codec_files[name]
    info = probe(path)
    assert info.decoder == ("ffmpeg" if name.startswith("av1") else "opencv")
    assert info.duration_s == pytest.approx(3.0, abs=0.05) and info.fps == pytest.approx(25.0)
    source = path.parent.parent / "source.mp4"
    times, whole = np.array([0.1, 1.5, 2.9]), FrameFormat(64)
    frames = read_samples(info, times, [whole])[whole].astype(int)
    if name == "hevc_portrait_rotated":
        assert (info.width, info.height) == (240, 320)
        expected = read_samples(source, times, [whole])[whole]
        expected = np.rot90(expected, k=1, axes=(1, 2))  # a 90° display rotation turns it anticlockwise
    else:
        assert (info.width, info.height) == (320, 240)
        expected = read_samples(source, times, [whole])[whole]
    assert np.abs(frames - expected).mean() < 12, "the frames are the source's, at the same times"


@pytest.mark.parametrize("name", ["rotated", "variable_rate", "4k", "truncated_streamable"])
def test_ffmpeg_gives_the_same_frames_and_times_as_opencv(odd_files: dict[str, Path], name: str):
    """Whichever decoder a probe picks, training and inference see the same frames."""
    info = probe(odd_files[name])
    by_opencv = list(iter_frames(info))
    by_ffmpeg = list(iter_frames(dataclasses.replace(info, decoder="ffmpeg")))
    assert len(by_opencv) == len(by_ffmpeg) > 0
    np.testing.assert_allclose([s for s, _ in by_opencv], [s for s, _ in by_ffmpeg], atol=1e-6)
    for (_, opencv_frame), (_, ffmpeg_frame) in zip(by_opencv[::7], by_ffmpeg[::7]):
        np.testing.assert_array_equal(opencv_frame, ffmpeg_frame)


def test_an_ffmpeg_decode_stopped_early_leaves_no_process(synthetic_codec_files: dict[str, Path]):
    frames = iter_frames(probe(synthetic_codec_files["av1_webm"]))
    next(frames)
    assert psutil.Process().children()
    frames.close()
    assert not psutil.Process().children()


@pytest.mark.parametrize("name", list(REFUSALS))
def test_broken_real_world_files_get_one_clear_sentence(more_odd_files: dict[str, Path], name: str):
    path = more_odd_files[name]
    with pytest.raises(VideoError) as error:
        probe(path)
    assert str(error.value).startswith(f"{path.name}: ") and REFUSALS[name] in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name, size", [
    ("portrait_phone", (180, 320)), ("several_video_streams", (320, 240)), ("video_only_webm", (320, 240)),
    ("hevc_4k", (3840, 2160)), ("animated_gif", (160, 120)), ("fragmented_mp4", (320, 240)),
    ("high_frame_rate", (320, 240)), ("with_audio_mkv", (320, 240)), ("interlaced_mpeg2", (320, 240)),
    ("odd_size", (321, 241)),
])
def test_odd_real_world_files_decode(more_odd_files: dict[str, Path], name: str, size: tuple[int, int]):
    """The picture shown (rotation applied; the first video stream of several), sampled to the model's size."""
    info = probe(more_odd_files[name])
    assert (info.width, info.height) == size and info.duration_s > 0.5
    frames = read_samples(info, np.linspace(0.05, info.duration_s - 0.05, 8), [FrameFormat(32, crop_borders=True)])
    assert frames[FrameFormat(32, crop_borders=True)].shape == (8, 32, 32, 3)


@pytest.mark.parametrize("rate", [5.0, 7.3, 40.0])
def test_sampled_frames_are_those_on_screen_though_most_are_never_converted(tmp_path: Path, rate: float):
    """Frames no time falls on skip the BGR conversion; the ones handed out are the same as decoding them all."""
    video = pattern_clip(tmp_path / "pattern.mp4", "320x240", 3.0)
    decoded = list(iter_frames(video))
    times = np.arange(0.0, decoded[-1][0] + 0.5, 1.0 / rate)
    on_screen = [decoded[max(0, np.searchsorted([s for s, _ in decoded], t, side="right") - 1)][1] for t in times]
    frame_format = FrameFormat(64, crop_borders=False)
    sampled = np.concatenate([batch[frame_format] for batch in SampleStream(video, times, [frame_format])])
    expected = np.stack([to_square_rgb(frame, 64) for frame in on_screen])
    np.testing.assert_array_equal(sampled, expected)
    kept = [stamp for stamp, frame in iter_frames(video, lambda stamp: stamp < 1.0) if frame is not None]
    assert kept and max(kept) < 1.0
