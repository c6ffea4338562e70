"""The command line, run as a user runs it: `python -m recognition ...` in a subprocess.

Each subprocess starts TensorFlow and loads both models afresh, so those tests are marked slow.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recognition.calibration import Calibration
from recognition.cli import main
from recognition.litert import FRAME_HEAD, SEQUENCE_HEAD, int8_path
from recognition.metadata import SPLIT_RUN_DIR, ModelSpec
from tests.helpers import (
    CONFIDENT_ACTION,
    ROOT,
    SHARED,
    UCF14,
    WEIGHTS,
    missing_models,
    needs_ucf14,
    needs_weights,
    validation_clip,
    write_clip,
)


def run_cli(*args: str, timeout: int = 600, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "recognition", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("inputs")
    good = write_clip(folder / "good.avi")
    corrupt = folder / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(4096))
    text = folder / "readme.mp4"
    text.write_text("just some text, not a video\n")
    return [good, corrupt, text, folder / "missing.mp4"]


@pytest.mark.slow
@needs_weights
def test_predict_json_gives_one_line_per_input_and_fails_at_the_end(mixed_inputs: list[Path]):
    done = run_cli("predict", "--json", *map(str, mixed_inputs))
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["video"] for line in lines] == [str(p) for p in mixed_inputs]
    good, corrupt, text, missing = lines
    assert set(good["models"]) == {"lrcn", "convlstm"}
    assert set(good["models"]["lrcn"]) == {"label", "confidence", "known", "top3", "seconds", "segments", "timeline"}
    assert len(good["models"]["convlstm"]["top3"]) == 3
    for model in good["models"].values():
        assert model["known"] is False  # a moving square is none of the actions the models know
        assert [window["start_s"] for window in model["timeline"]] == [0.0]
        assert set(model["timeline"][0]) == {"start_s", "end_s", "label", "confidence"}
        assert model["segments"] == [{"start_s": 0.0, "end_s": 3.0, "label": model["label"],
                                      "confidence": model["confidence"], "known": False}]
    assert good["duration_s"] == pytest.approx(3.0)
    assert "not a video" in corrupt["error"]
    assert "not a video" in text["error"]
    assert "no such file" in missing["error"]
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@needs_weights
@needs_ucf14
def test_predict_names_the_action_and_writes_two_videos(tmp_path: Path):
    clip = validation_clip("JumpRope")
    done = run_cli("predict", str(clip), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    rows = [line.split()[:2] for line in done.stdout.splitlines() if line.startswith("  ") and "top-3" in line]
    assert rows == [["LRCN", "JumpRope"], ["ConvLSTM", "JumpRope"]], done.stdout
    assert sorted(p.name for p in tmp_path.glob("*.mp4")) == [f"{clip.stem}_convlstm.mp4", f"{clip.stem}_lrcn.mp4"]


@pytest.mark.slow
@needs_weights
@needs_ucf14
def test_evaluate_reports_accuracy_on_held_out_groups_only(tmp_path: Path):
    data = tmp_path / "data"
    for label in ("Diving", "PullUps"):
        (data / label).mkdir(parents=True)
        for clip in sorted((SHARED / "data/ucf14" / label).glob("*_g0[89]_*.mp4"))[:1]:
            (data / label / clip.name).symlink_to(clip)
        for clip in sorted((SHARED / "data/ucf14" / label).glob("*_g2[1-5]_*.mp4"))[:2]:
            (data / label / clip.name).symlink_to(clip)
    if missing_models(SPLIT_RUN_DIR):
        pytest.skip(f"needs the split runs in {SPLIT_RUN_DIR}")
    done = run_cli("evaluate", "--data", str(data), "--weights", str(SPLIT_RUN_DIR), "--json",
                   "--out", str(tmp_path / "eval"))
    assert done.returncode == 0, done.stderr
    reports = json.loads(done.stdout)
    for name in ("lrcn", "convlstm"):
        assert reports[name]["clips"] == 4
        assert all(group >= 21 for group in reports[name]["groups"])
        assert 0 <= reports[name]["top1"] <= reports[name]["top3"] <= 1
        low, high = reports[name]["top1_interval"]
        assert 0 <= low <= reports[name]["top1"] <= high <= 1
        assert (tmp_path / "eval" / f"confusion_{name}.png").stat().st_size > 1000


@pytest.mark.slow
@needs_weights
@needs_ucf14
def test_evaluate_says_a_model_trained_on_every_group_has_nothing_held_out(tmp_path: Path):
    every_group = [name for name in ("lrcn", "convlstm")
                   if ModelSpec.load(WEIGHTS / f"{name}.json").trained_on_every_group]
    if not every_group:
        pytest.skip("no shipped model is trained on every group")
    done = run_cli("evaluate", "--data", str(UCF14), "--per-class", "1", "--json", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    reports = json.loads(done.stdout)
    for name in every_group:
        assert reports[name]["clips"] == 0
        assert reports[name]["error"].endswith("(its split run: evaluate --weights weights/split_run)")


def test_cli_refuses_an_unknown_model(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--model", "resnet", "--data", "x"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.slow
@needs_weights
def test_predict_refuses_a_video_over_the_duration_cap_before_decoding_it(tmp_path: Path):
    clip = write_clip(tmp_path / "forty_seconds.avi", frames=400, fps=10.0)
    done = run_cli("predict", str(clip), env_extra={"ACTION_LENS_MAX_SECONDS": "30"})
    assert done.returncode == 1
    assert "error: forty_seconds.avi: it is 40 s long and this demo takes videos up to 30 s" in done.stderr
    assert done.stderr.count("forty_seconds.avi") == 1
    assert "Traceback" not in done.stderr


def test_plain_output_marks_guesses_and_unknown_actions_and_lists_segments(capsys):
    from recognition.cli import _format_result
    from recognition.results import ModelResult, Recognition

    classes = ("Diving", "PullUps", "Swing")
    windows = [(float(i), i + 3.2) for i in range(12)]
    story = np.array([[0.8, 0.1, 0.1]] * 6 + [[0.1, 0.2, 0.7]] * 6)
    unsure = np.array([[0.35, 0.4, 0.25]] * 12)
    recognition = Recognition("workout.mp4", 14.2, {
        "lrcn": ModelResult.from_windows("lrcn", classes, windows, story, 0.5, 14.2),
        "convlstm": ModelResult.from_windows("convlstm", classes, windows, unsure, 0.5, 14.2,
                                             calibration=Calibration(known_threshold=0.5)),
    })
    lines = _format_result(recognition.summary()).splitlines()
    assert lines[1].split()[:4] == ["LRCN", "Diving", "(low", "confidence)"]
    assert lines[2].split()[:3] == ["0:00-0:07", "Diving", "80.0%"]
    assert lines[3].split()[:3] == ["0:07-0:14", "Swing", "70.0%"]
    assert lines[4].split()[:6] == ["ConvLSTM", "none", "of", "these", "(closest:", "PullUps)"]
    assert len(lines) == 5


@needs_weights
@needs_ucf14
def test_predict_answers_every_common_format(real_codec_files: dict[str, Path], more_odd_files: dict[str, Path]):
    """AV1 (mp4, webm), HEVC 10-bit and turned, VP9 10-bit, H.264 4:4:4, ProRes, MJPEG, MPEG-4: one answer each."""
    videos = [*real_codec_files.values(), more_odd_files["audio_with_cover_mp4"]]
    done = run_cli("predict", "--json", *map(str, videos))
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["video"] for line in lines] == [str(video) for video in videos], done.stderr
    for name, line in zip(real_codec_files, lines):
        assert set(line.get("models", {})) == {"lrcn", "convlstm"}, (name, line)
        if name != "hevc_portrait_rotated":
            assert {model["label"] for model in line["models"].values()} == {CONFIDENT_ACTION}, (name, line)
    assert lines[-1]["error"] == "song_with_cover.mp4: is an audio file with a cover picture, not a video"
    assert done.returncode == 1 and "Traceback" not in done.stderr


@needs_weights
@pytest.mark.slow
def test_export_converts_a_model_once_into_the_cache(tmp_path: Path):
    """A model with no LiteRT copy beside it (a freshly trained one) is converted once, into the cache."""
    weights = tmp_path / "weights"
    weights.mkdir()
    for suffix in (".keras", ".json"):
        shutil.copy(WEIGHTS / f"convlstm{suffix}", weights)
    first = run_cli("export", "convlstm", "--weights", str(weights), env_extra={"ACTION_LENS_CACHE": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    converted = Path(first.stdout.split(": ", 1)[1].strip())
    assert converted.parent == tmp_path / "litert" and converted.suffix == ".tflite"
    assert converted.stat().st_size > 1_000_000 and converted.with_suffix(".stem-weights").exists()
    assert int8_path(converted, SEQUENCE_HEAD).exists(), "the int8 heads that are served"
    assert int8_path(converted, FRAME_HEAD).exists() == UCF14.is_dir(), "calibrated on the clips its metadata names"
    written = converted.stat().st_mtime_ns
    again = run_cli("export", "convlstm", "--weights", str(weights), env_extra={"ACTION_LENS_CACHE": str(tmp_path)})
    assert again.stdout == first.stdout and converted.stat().st_mtime_ns == written, "converted once, then reused"


def test_export_refuses_a_model_that_is_not_there(tmp_path: Path, capsys):
    assert main(["export", "lrcn", "--weights", str(tmp_path)]) == 2
    assert "no trained model" in capsys.readouterr().err
