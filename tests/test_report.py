"""How a recognition is explained: table rows, verdict, timeline plots, model notes."""

import numpy as np

from recognition.metadata import ModelSpec, SamplingSpec
from recognition.report import about_models, comparison_rows, timeline_figure, verdict
from recognition.results import ModelResult, Recognition

CLASSES = ("Diving", "PullUps", "Surfing", "Swing")


def _result(model: str, *windows: list[float]) -> ModelResult:
    spans = [(float(i), i + 3.2) for i in range(len(windows))]
    return ModelResult.from_windows(model, CLASSES, spans, np.array(windows), seconds=0.25)


def _recognition(lrcn: ModelResult, convlstm: ModelResult) -> Recognition:
    return Recognition("clip.mp4", 5.2, {"lrcn": lrcn, "convlstm": convlstm})


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
    assert verdict(recognition).startswith("Neither model is confident")
    assert "may not be one of the 4 actions the models know" in verdict(recognition)


def test_timeline_plots_the_top_classes_over_the_windows():
    result = _result("convlstm", [0.7, 0.2, 0.1, 0.0], [0.2, 0.7, 0.1, 0.0], [0.1, 0.8, 0.0, 0.1])
    axes = timeline_figure(result, duration_s=5.2).axes[0]
    lines = {line.get_label(): line for line in axes.get_lines() if not line.get_label().startswith("_")}
    assert list(lines) == ["PullUps", "Diving", "Surfing"]
    np.testing.assert_allclose(lines["PullUps"].get_xdata(), [1.6, 2.6, 3.6])
    np.testing.assert_allclose(lines["PullUps"].get_ydata(), [0.2, 0.7, 0.8])
    assert axes.get_ylim() == (0, 1) and axes.get_xlim() == (0, 5.2)
    assert "ConvLSTM" in axes.get_title()


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
