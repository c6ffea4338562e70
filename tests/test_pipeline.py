"""The shipped models through the public API: real `.keras` files, real decoding."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recognition import MODEL_NAMES, Recognizer, VideoError
from recognition.limits import Limits
from recognition.motion import FlowTracker
from recognition.shifts import shifted_copy
from recognition.training.dataset import group_of
from recognition.video import probe
from tests.helpers import (
    CONFIDENT_ACTION,
    ROOT,
    UCF14,
    WEIGHTS,
    ffmpeg,
    needs_ucf14,
    needs_weights,
    pattern_clip,
    validation_clip,
)
from tests.real_world import CODECS

pytestmark = needs_weights


@pytest.mark.slow
def test_shipped_weights_load_in_a_fresh_process_without_our_code():
    script = (
        "import keras, sys\n"
        f"for name in {list(MODEL_NAMES)!r}:\n"
        f"    model = keras.saving.load_model({str(WEIGHTS)!r} + f'/{{name}}.keras')\n"
        "    print(name, model.input_shape, model.output_shape)\n"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "HOME": "/nonexistent"})
    assert output.returncode == 0, output.stderr
    assert "lrcn" in output.stdout and "convlstm" in output.stdout


def test_metadata_describes_each_model(recognizer: Recognizer):
    for name, spec in recognizer.specs.items():
        meta = json.loads((WEIGHTS / f"{name}.json").read_text())
        assert meta["classes"] == list(spec.classes) and len(spec.classes) == 14
        assert spec.sampling.num_frames == meta["sampling"]["num_frames"]
        training = meta["training"]
        assert set(training["training_groups"]).isdisjoint(training["validation_groups"])
        if training["validation_groups"]:
            assert 0 < training["validation"]["top1"] <= 1
        else:  # trained on every group: calibrated by its split run, on groups that run held out
            split_run = meta["calibration"]["fitted_on"]["split_run"]
            assert set(split_run["training_groups"]).isdisjoint(meta["calibration"]["fitted_on"]["groups"])
            split = json.loads((ROOT / split_run["file"]).read_text())
            assert split["calibration"]["temperature"] == meta["calibration"]["temperature"]


def test_result_covers_the_video_with_a_timeline(recognizer: Recognizer, synthetic_clip: Path):
    result = recognizer.recognize(synthetic_clip)
    assert result.duration_s == pytest.approx(3.0)
    assert set(result.models) == set(MODEL_NAMES)
    for model in result.models.values():
        assert model.label in model.classes
        assert model.top3[0] == (model.label, model.confidence)
        assert model.top3[0][1] >= model.top3[1][1] >= model.top3[2][1]
        assert len(model.timeline) == 1 and model.timeline[0].end_s == pytest.approx(3.0)
        assert sum(model.timeline[0].probabilities) == pytest.approx(1.0, abs=1e-4)
        assert model.seconds > 0


def test_models_on_one_frozen_stem_share_it_and_get_the_same_answers(recognizer: Recognizer, synthetic_clip: Path):
    stems = {name: model.stem_id for name, model in recognizer.models.items()}
    assert len(set(stems.values())) == 1, "the shipped models are trained on the same frozen stem"
    apart = Recognizer({name: dataclasses.replace(model, stem_id=name) for name, model in recognizer.models.items()},
                       pose=recognizer.pose)
    shared, separate = recognizer.recognize(synthetic_clip), apart.recognize(synthetic_clip)
    # Each model's LiteRT copy holds its own conversion of the stem; two conversions differ by float noise
    # (about 1e-6), which an int8 frame head can round one quantization step apart.
    for name in MODEL_NAMES:
        np.testing.assert_allclose(shared.models[name].timeline[0].probabilities,
                                   separate.models[name].timeline[0].probabilities, atol=5e-3)


def test_models_that_take_the_same_flow_share_its_computation(recognizer: Recognizer, synthetic_clip: Path,
                                                              monkeypatch: pytest.MonkeyPatch):
    computed = []
    fields = FlowTracker.fields
    monkeypatch.setattr(FlowTracker, "fields", lambda tracker, frames: computed.append(len(frames)) or
                        fields(tracker, frames))
    assert all(model.spec.motion for model in recognizer.models.values()), "both shipped models take flow"
    alone = Recognizer({"lrcn": recognizer.models["lrcn"]}, pose=recognizer.pose).recognize(synthetic_clip)
    frames_alone, computed[:] = sum(computed), []
    both = Recognizer(recognizer.models, pose=recognizer.pose).recognize(synthetic_clip)
    assert frames_alone > 0 and sum(computed) == frames_alone
    np.testing.assert_allclose(both.models["lrcn"].probabilities, alone.models["lrcn"].probabilities, atol=1e-5)


def test_long_video_gets_one_timeline_entry_per_window(recognizer: Recognizer, tmp_path: Path):
    from tests.helpers import write_clip

    clip = write_clip(tmp_path / "long.avi", frames=100, fps=10.0)
    result = recognizer.recognize(clip)
    for model in result.models.values():
        starts = [w.start_s for w in model.timeline]
        assert len(starts) == 8 and starts[0] == 0.0
        np.testing.assert_allclose(np.diff(starts[:-1]), 1.0)
        np.testing.assert_allclose(model.probabilities, np.mean([w.probabilities for w in model.timeline], 0))


def test_unreadable_video_raises_video_error(recognizer: Recognizer, tmp_path: Path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(VideoError):
        recognizer.recognize(bad)


@pytest.mark.parametrize("name, note", [
    ("one_frame", "single frame"),
    ("short", "shorter than the 3.2 s window"),
    ("wide", "squeezed into a square"),
    ("truncated_streamable", "Only the first 1."),
    ("4k", "shorter than the 3.2 s window"),
    ("rotated", None),
    ("variable_rate", None),
])
def test_odd_videos_that_decode_get_an_answer_and_a_note(recognizer: Recognizer, odd_files: dict[str, Path],
                                                         tmp_path: Path, name: str, note: str | None):
    source = odd_files[name]
    before = source.read_bytes()
    result = recognizer.recognize(source, output_dir=tmp_path)
    assert all(model.timeline and 0 < model.confidence <= 1 for model in result.models.values())
    assert (note is None) == (not result.notes)
    assert note is None or note in " ".join(result.notes)
    for model in result.models.values():
        info = probe(model.annotated_video)
        assert info.frame_count >= 1 and max(info.width, info.height) <= 640 and min(info.width, info.height) <= 360
    assert source.read_bytes() == before


def test_progress_runs_through_every_stage_and_can_stop_the_work(recognizer: Recognizer, odd_files: dict[str, Path],
                                                                 tmp_path: Path):
    steps: list[tuple[float, str]] = []
    recognizer.recognize(odd_files["short"], output_dir=tmp_path, progress=lambda f, step: steps.append((f, step)))
    fractions, names = [f for f, _ in steps], {step for _, step in steps}
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert {"Decoding video and running the CNNs", "Running LRCN", "Running ConvLSTM",
            "Writing annotated videos"} <= names
    deadline = Limits(max_request_seconds=0).deadline()
    stopped = tmp_path / "stopped"
    with pytest.raises(VideoError, match="limit per request"):
        recognizer.recognize(odd_files["short"], output_dir=stopped,
                             progress=lambda _, step: step.startswith("Decoding") and deadline.check())
    assert list(stopped.iterdir()) == [], "videos started before the models ran are removed when they stop"


def test_a_truncated_video_is_recognised_over_the_part_that_decodes(recognizer: Recognizer,
                                                                      odd_files: dict[str, Path]):
    result = recognizer.recognize(odd_files["truncated_streamable"])
    assert 0.9 < result.duration_s < 2.5
    assert all(window.end_s <= result.duration_s + 1e-6 for model in result.models.values()
               for window in model.timeline)


@needs_ucf14
@pytest.mark.parametrize("label", ["BodyWeightSquats", "Diving", "HandstandPushups", "JumpRope"])
def test_a_clip_the_split_runs_never_saw_is_named_right_by_both(split_runs: Recognizer, label: str):
    result = split_runs.recognize(validation_clip(label))
    assert {name: m.label for name, m in result.models.items()} == {name: label for name in MODEL_NAMES}


@pytest.fixture(scope="module")
def floor_clips() -> list[Path]:
    """Two clips per class from groups g21-g25 (28 in all), a fixed subset of the groups split runs hold out."""
    return [path for label in sorted(p.name for p in UCF14.iterdir())
            for path in sorted((UCF14 / label).glob("*_g2[1-5]_*.mp4"))[::4][:2]]


def assert_never_trained_on(recognizer: Recognizer, clips: list[Path]) -> None:
    groups = {group_of(clip) for clip in clips}
    for name, spec in recognizer.specs.items():
        assert groups.isdisjoint(spec.training["training_groups"]), f"{name} trained on some of these clips"


@pytest.fixture(scope="module")
def floor_answers(split_runs: Recognizer, floor_clips: list[Path]) -> list:
    """The split runs' recognitions of the floor clips, made once for the tests that read them."""
    assert_never_trained_on(split_runs, floor_clips)
    return [split_runs.recognize(clip) for clip in floor_clips]


@pytest.mark.slow
@needs_ucf14
def test_models_clear_their_floor_on_held_out_groups(floor_clips: list[Path], floor_answers: list):
    """The split runs, which never trained on g21-g25, on these 28 clips of them.

    The floors sit a few points under the accuracy measured on all of g21-g25 (docs/results.md).
    """
    clips = floor_clips
    assert len(clips) == 28
    correct = {name: 0 for name in MODEL_NAMES}
    for clip, recognition in zip(clips, floor_answers):
        models = recognition.models
        for name in MODEL_NAMES:
            correct[name] += models[name].label == clip.parent.name
    floors = {"lrcn": 0.85, "convlstm": 0.85}
    accuracy = {name: correct[name] / len(clips) for name in MODEL_NAMES}
    assert all(accuracy[name] >= floors[name] for name in MODEL_NAMES), accuracy


@pytest.mark.slow
@needs_ucf14
@pytest.mark.parametrize("clip", ["Lunges/v_Lunges_g23_c01.mp4", "Swing/v_Swing_g22_c03.mp4"])
def test_black_bars_added_to_a_video_do_not_change_the_answers(recognizer: Recognizer, tmp_path: Path, clip: str):
    """Trained on uncut frames, the models learnt bars as a cue: with bars, LRCN called both clips SkyDiving.

    The models' own answers keep their confidence within 0.1; fused with the pose stream, the label stays
    (the swinging body is found in about half the frames, and which half changes with the copy's pixels).
    """
    assert all(spec.crop_borders for spec in recognizer.specs.values())
    raw = Recognizer(recognizer.models, calibrated=False)
    boxed_copy = shifted_copy(UCF14 / clip, "letterbox", tmp_path)
    plain, boxed = raw.recognize(UCF14 / clip), raw.recognize(boxed_copy)
    for name in MODEL_NAMES:
        assert boxed.models[name].label == plain.models[name].label, name
        assert boxed.models[name].confidence == pytest.approx(plain.models[name].confidence, abs=0.1), name
    fused_plain, fused_boxed = recognizer.recognize(UCF14 / clip), recognizer.recognize(boxed_copy)
    for name in MODEL_NAMES:
        assert fused_boxed.models[name].label == fused_plain.models[name].label, name


def test_segments_cover_the_whole_video(recognizer: Recognizer, odd_files: dict[str, Path]):
    result = recognizer.recognize(odd_files["variable_rate"])
    for model in result.models.values():
        assert model.segments[0].start_s == 0.0 and model.segments[-1].end_s == result.duration_s
        assert all(a.end_s == b.start_s and a.label != b.label for a, b in zip(model.segments, model.segments[1:]))


@pytest.mark.parametrize("name", list(CODECS))
def test_every_common_format_gets_the_same_answer(recognizer: Recognizer, real_codec_files: dict[str, Path],
                                                  name: str):
    """A g21-g25 clip re-encoded as phones, cameras, editors and sites write it; turned, it still gets an answer."""
    result = recognizer.recognize(real_codec_files[name])
    assert result.duration_s == pytest.approx(3.0, abs=0.05)
    labels = {model.label for model in result.models.values()}
    if name != "hevc_portrait_rotated":
        assert labels == {CONFIDENT_ACTION}, (name, labels)
    assert len(labels) >= 1 and all(model.confidence > 0 for model in result.models.values())


@pytest.mark.parametrize("name", ["portrait_phone", "several_video_streams", "video_only_webm", "hevc_4k",
                                  "animated_gif", "fragmented_mp4", "high_frame_rate", "interlaced_mpeg2",
                                  "odd_size"])
def test_odd_real_world_files_get_an_answer(recognizer: Recognizer, more_odd_files: dict[str, Path], name: str,
                                            tmp_path: Path):
    result = recognizer.recognize(more_odd_files[name], output_dir=tmp_path)
    assert set(result.models) == set(MODEL_NAMES)
    for model in result.models.values():
        assert model.label in model.classes and probe(model.annotated_video).frame_count > 0


@needs_ucf14
def test_the_pipeline_fuses_the_pose_stream_then_applies_each_models_temperature(recognizer: Recognizer):
    raw_recognizer = Recognizer(recognizer.models, calibrated=False, pose=recognizer.pose)
    for clip in (validation_clip("Lunges"), validation_clip("Swing")):
        calibrated, plain = recognizer.recognize(clip), raw_recognizer.recognize(clip)
        assert plain.pose.shape == (len(plain.models["lrcn"].timeline), len(recognizer.pose.spec.classes))
        assert "pose" in calibrated.stage_seconds
        for name in MODEL_NAMES:
            calibration = recognizer.specs[name].calibration
            assert calibration.temperature != 1.0 and calibration.pose_weight > 0 and plain.models[name].known
            raw = np.array([w.probabilities for w in plain.models[name].timeline])
            assert np.allclose(calibration.apply(raw, plain.pose),
                               [w.probabilities for w in calibrated.models[name].timeline], atol=1e-5)


@needs_ucf14
@pytest.mark.slow
def test_calibration_brings_the_confidence_closer_to_the_share_right(split_runs: Recognizer, floor_clips: list[Path],
                                                                     floor_answers: list):
    """Fitted on all 213 clips of g21-g25; on this subset of them, the split runs (which never trained
    on them, and whose calibration the shipped models carry) answer with a lower calibration error and
    a likelihood no worse than their raw softmax's.
    """
    from recognition.calibration import tempered
    from recognition.metrics import expected_calibration_error

    shown = {name: [] for name in MODEL_NAMES}
    for recognition in floor_answers:
        for name, result in recognition.models.items():
            shown[name].append(np.array([w.probabilities for w in result.timeline]))
    for name in MODEL_NAMES:
        classes, temperature = split_runs.specs[name].classes, split_runs.specs[name].calibration.temperature
        labels = np.array([classes.index(clip.parent.name) for clip in floor_clips])
        calibrated = np.stack([w.mean(axis=0) for w in shown[name]])
        raw = np.stack([tempered(w, 1.0 / temperature).mean(axis=0) for w in shown[name]])

        def likelihood(p, labels=labels):
            return -np.mean(np.log(p[np.arange(len(labels)), labels]))

        assert likelihood(calibrated) <= likelihood(raw) + 1e-3, name
        assert expected_calibration_error(calibrated, labels) < expected_calibration_error(raw, labels), name


@needs_ucf14
def test_a_clear_clip_is_known_and_videos_of_no_action_are_not(recognizer: Recognizer, tmp_path: Path):
    """A still pattern, a grey screen, and a real scene frozen (the models' softmax is sure of some of them)."""
    clear = recognizer.recognize(validation_clip(CONFIDENT_ACTION))
    for result in clear.models.values():
        assert result.label == CONFIDENT_ACTION and result.known
        assert all(segment.known for segment in result.segments)
    grey = tmp_path / "grey.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:size=320x240:rate=25", "-t", "4", "-pix_fmt", "yuv420p", str(grey))
    still = pattern_clip(tmp_path / "still.mp4", "320x240", 4.0, "-vf", "select=eq(n\\,0),loop=100:1:0")
    frozen = tmp_path / "frozen.mp4"
    ffmpeg("-ss", "2", "-i", str(validation_clip("Diving")), "-vf", "select=eq(n\\,0),loop=100:1:0,setpts=N/25/TB",
           "-frames:v", "100", "-r", "25", "-pix_fmt", "yuv420p", str(frozen))
    for video in (grey, still, frozen):
        for name, result in recognizer.recognize(video).models.items():
            assert not result.known, (video.name, name, result.top3)
            assert result.summary()["known"] is False


@needs_ucf14
@pytest.mark.parametrize("clip", ["JumpingJack/v_JumpingJack_g23_c01.mp4", "PushUps/v_PushUps_g23_c01.mp4"])
def test_a_portrait_copy_keeps_its_answer(recognizer: Recognizer, split_runs: Recognizer, tmp_path: Path,
                                          clip: str):
    """The middle 9:16 of a g21-g25 clip, as a phone films it upright, is padded to the trained shape:
    the models that ship and the split runs, which never saw the clip, still name it from its frames.
    (The pose stream is not checked on the split runs: a crop that cuts a push-up's head and feet off
    leaves it a body it can't read, and ConvLSTM's split run, fused with it, loses this clip; docs/trust.md.)"""
    portrait = shifted_copy(UCF14 / clip, "portrait", tmp_path)
    assert probe(portrait).height > probe(portrait).width
    for models in (recognizer, split_runs):
        assert all(spec.aspect_range is not None for spec in models.specs.values())
        raw = Recognizer(models.models, calibrated=False)
        for name, result in raw.recognize(portrait).models.items():
            assert result.label == clip.split("/")[0], (name, result.top3)
    for name, result in recognizer.recognize(portrait).models.items():
        assert result.label == clip.split("/")[0], (name, result.top3)
