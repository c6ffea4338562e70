"""How a recognition is explained: table rows, verdict, timeline plots, model notes."""

import dataclasses

import numpy as np

from recognition.calibration import Calibration
from recognition.metadata import ModelSpec, SamplingSpec
from recognition.report import about_models, comparison_rows, how_to_read, segment_rows, timeline_figure, verdict
from recognition.results import ModelResult, Recognition

CLASSES = ("Diving", "PullUps", "Surfing", "Swing")


def _result(model: str, *windows: list[float], known_threshold: float = 0.0) -> ModelResult:
    spans = [(float(i), i + 3.2) for i in range(len(windows))]
    return ModelResult.from_windows(model, CLASSES, spans, np.array(windows), seconds=0.25,
                                    calibration=Calibration(known_threshold=known_threshold))


def _recognition(lrcn: ModelResult, convlstm: ModelResult) -> Recognition:
    return Recognition("clip.mp4", lrcn.timeline[-1].end_s, {"lrcn": lrcn, "convlstm": convlstm})


def _story(*labels: int, confidence: float = 0.8) -> list[list[float]]:
    """Windows, one a second, each `confidence` sure of its class."""
    rows = np.full((len(labels), len(CLASSES)), (1 - confidence) / (len(CLASSES) - 1))
    rows[np.arange(len(labels)), labels] = confidence
    return rows.tolist()


def test_rows_compare_both_models():
    recognition = _recognition(_result("lrcn", [0.1, 0.8, 0.05, 0.05], [0.1, 0.6, 0.2, 0.1]),
                               _result("convlstm", [0.05, 0.9, 0.03, 0.02], [0.0, 1.0, 0.0, 0.0]))
    assert comparison_rows(recognition) == [
        ["LRCN", "PullUps", "70%", "PullUps 70%, Surfing 12%, Diving 10%", "2", "0.25 s", "yes"],
        ["ConvLSTM", "PullUps", "95%", "PullUps 95%, Diving 2%, Surfing 2%", "2", "0.25 s", "yes"],
    ]
    assert verdict(recognition) == "Both models see **PullUps** (LRCN 70%, ConvLSTM 95%)."


def test_low_confidence_is_said_out_loud():
    recognition = _recognition(_result("lrcn", [0.3, 0.2, 0.4, 0.1]), _result("convlstm", [0.9, 0.1, 0.0, 0.0]))
    lrcn, convlstm = comparison_rows(recognition)
    assert lrcn[1] == "Surfing (low confidence)" and convlstm[1] == "Diving"
    assert lrcn[-1] == convlstm[-1] == "no"
    assert verdict(recognition) == ("The models disagree: LRCN says **Surfing** (40%, low confidence); "
                                    "ConvLSTM says **Diving** (90%).")


def test_a_guess_by_both_models_is_called_a_guess():
    recognition = _recognition(_result("lrcn", [0.3, 0.2, 0.4, 0.1]), _result("convlstm", [0.3, 0.2, 0.4, 0.1]))
    assert verdict(recognition) == ("Neither model is confident: LRCN says **Surfing** (40%, low confidence); "
                                    "ConvLSTM says **Surfing** (40%, low confidence). Treat this as a guess.")


def test_agreement_keeps_the_low_confidence_mark():
    recognition = _recognition(_result("lrcn", [0.1, 0.2, 0.4, 0.3]), _result("convlstm", [0.1, 0.1, 0.7, 0.1]))
    assert verdict(recognition) == "Both models see **Surfing** (LRCN 40%, low confidence; ConvLSTM 70%)."


def test_an_answer_below_the_known_threshold_is_called_none_of_the_actions():
    unsure = [0.1, 0.32, 0.3, 0.28]
    recognition = _recognition(_result("lrcn", unsure, known_threshold=0.4),
                               _result("convlstm", [0.1, 0.2, 0.3, 0.4], known_threshold=0.45))
    assert verdict(recognition) == (  # closest by both models' evidence: Swing 34%, Surfing 30%
        "This doesn't look like any of the 4 actions these models know (closest: Swing, 34%). LRCN sees none of "
        "the actions it knows (closest: PullUps, 32%); ConvLSTM sees none of the actions it knows (closest: Swing, "
        "40%).")
    lrcn, convlstm = comparison_rows(recognition)
    assert lrcn[1] == "none of the 4 known actions (closest: PullUps)"
    assert convlstm[1] == "none of the 4 known actions (closest: Swing)"
    one_knows = _recognition(_result("lrcn", unsure, known_threshold=0.4),
                             _result("convlstm", [0.1, 0.8, 0.05, 0.05], known_threshold=0.45))
    assert verdict(one_knows) == ("The models disagree: LRCN sees none of the actions it knows (closest: PullUps, "
                                  "32%); ConvLSTM says **PullUps** (80%).")


def test_several_actions_are_named_in_order_when_both_models_see_them():
    story = _story(0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3)
    recognition = _recognition(_result("lrcn", *story), _result("convlstm", *story))
    assert verdict(recognition) == ("The video shows 3 parts, and both models see the same ones: "
                                    "0:00-0:07 **Diving**, 0:07-0:13 **PullUps**, 0:13-0:19 **Swing**.")
    assert segment_rows(recognition) == [
        [model, start, end, label, "80%"] for model in ("LRCN", "ConvLSTM")
        for start, end, label in (("0:00", "0:07", "Diving"), ("0:07", "0:13", "PullUps"), ("0:13", "0:19", "Swing"))
    ]


def test_models_that_tell_different_stories_are_both_heard():
    recognition = _recognition(_result("lrcn", *_story(0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1)),
                               _result("convlstm", *_story(0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, confidence=0.4)))
    assert verdict(recognition) == (
        "The video shows several actions, and the models disagree on them. "
        "LRCN: 0:00-0:07 **Diving**, 0:07-0:14 **PullUps**; "
        "ConvLSTM: 0:00-0:07 **Diving** (40%, low confidence), 0:07-0:14 **Surfing** (40%, low confidence).")


def test_timeline_draws_the_segments_and_every_label_that_occurs():
    story = _story(0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3)
    story[3] = [0.1, 0.8, 0.05, 0.05]  # an odd window: PullUps is no segment, so it gets no line
    result = _result("convlstm", *story)
    strip, axes = timeline_figure(result, duration_s=19.2).axes
    lines = {line.get_label(): line for line in axes.get_lines() if not line.get_label().startswith("_")}
    assert sorted(lines) == ["Diving", "Surfing", "Swing"]
    np.testing.assert_allclose(lines["Swing"].get_xdata()[:2], [1.6, 2.6])
    np.testing.assert_allclose(lines["Swing"].get_ydata()[-1], 0.8)
    assert [text.get_text() for text in strip.texts] == ["Diving", "Surfing", "Swing"]
    bars = [bar.get_paths()[0].get_extents() for bar in strip.collections]
    assert [(round(bar.x0, 1), round(bar.x1, 1)) for bar in bars] == [(0, 7.1), (7.1, 13.1), (13.1, 19.2)]
    assert axes.get_ylim() == (0, 1) and axes.get_xlim() == (0, 19.2)
    assert "ConvLSTM" in strip.get_title()


def test_about_lists_the_classes_and_reads_accuracy_from_metadata():
    specs = {
        name: ModelSpec(name, f"{name} architecture", CLASSES, 224, SamplingSpec(),
                        training={"validation": {"top1": accuracy, "clips": 120}}, crop_borders=cropping)
        for name, accuracy, cropping in (("lrcn", 0.83, True), ("convlstm", 0.77, False))
    }
    text = about_models(specs)
    assert "**4 actions**" in text and "Diving, PullUps, Surfing, Swing" in text
    assert "**LRCN**: lrcn architecture." in text and "validation accuracy **83%**" in text
    assert "**ConvLSTM**: convlstm architecture." in text and "validation accuracy **77%**" in text
    assert "16 frames of 224 px (black borders cut first) over 3.2 s windows, every 1 s" in text
    assert "16 frames of 224 px over 3.2 s windows, every 1 s" in text


def test_the_page_says_how_the_answer_relates_to_the_windows():
    specs = {"lrcn": ModelSpec("lrcn", "lrcn architecture", CLASSES, 224, SamplingSpec(16, 2.0, 0.5))}
    assert how_to_read(specs).startswith("Each model scores the video window by window (2 s each, one every 0.5 s). "
                                         "Its answer in the table is the average over all its windows")


def test_a_video_of_several_known_actions_is_known_and_its_row_names_them():
    """Its average fits none of its actions, so the threshold on the average alone would refuse it."""
    windows = _story(0, 0, 0, 0, 3, 3, 3, 3, 2, 2, 2, 2, confidence=0.9)
    lrcn = _result("lrcn", *windows, known_threshold=0.5)
    assert lrcn.confidence < 0.5 and [s.label for s in lrcn.segments] == ["Diving", "Swing", "Surfing"]
    assert lrcn.known
    row = comparison_rows(_recognition(lrcn, _result("convlstm", *windows, known_threshold=0.5)))[0]
    assert row[1] == "3 segments: Diving, Swing, Surfing"


def test_about_gives_the_split_runs_accuracy_for_a_model_trained_on_every_group():
    from recognition.calibration import Calibration

    calibration = Calibration(0.7, 0.3, fitted_on={"groups": [21, 22, 23, 24, 25], "clips": 213, "top1": 0.836,
                                                   "split_run": {"training_groups": [8, 9], "file": "x.json"}})
    spec = ModelSpec("lrcn", "lrcn architecture", CLASSES, 224, SamplingSpec(),
                     training={"validation": None}, calibration=calibration)
    assert ("trained on every group; the same recipe trained without g21-g25 was right on **84%** of their 213 clips"
            in about_models({"lrcn": spec}))
    assert "pose" not in about_models({"lrcn": spec})
    with_pose = dataclasses.replace(spec, calibration=dataclasses.replace(calibration, pose_weight=0.25))
    assert "lrcn architecture; fused with the pose stream (a GRU over BlazePose's body landmarks) at 25%." \
        in about_models({"lrcn": with_pose})
