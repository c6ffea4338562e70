"""A recognition, explained: comparison table, verdict, timeline plots, model notes.

Plain strings and matplotlib figures, so the app only lays them out. A model
that is less than `LOW_CONFIDENCE` sure says so: a guess is shown as a guess.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from recognition.metadata import ModelSpec
from recognition.results import ModelResult, Recognition

LOW_CONFIDENCE = 0.5
DISPLAY_NAMES = {"lrcn": "LRCN", "convlstm": "ConvLSTM"}
TABLE_HEADERS = ["Model", "Predicted action", "Confidence", "Top 3", "Windows", "Inference time",
                 "Models agree"]


def display_name(model: str) -> str:
    return DISPLAY_NAMES.get(model, model.upper())


def is_confident(result: ModelResult) -> bool:
    return result.confidence >= LOW_CONFIDENCE


def models_agree(recognition: Recognition) -> bool:
    return len({result.label for result in recognition.models.values()}) == 1


def comparison_rows(recognition: Recognition) -> list[list[str]]:
    """One row per model, in `TABLE_HEADERS` order."""
    agree = "yes" if models_agree(recognition) else "no"
    rows = []
    for name, result in recognition.models.items():
        label = result.label if is_confident(result) else f"{result.label} (low confidence)"
        top3 = ", ".join(f"{label} {p:.0%}" for label, p in result.top3)
        rows.append([display_name(name), label, f"{result.confidence:.0%}", top3, str(len(result.timeline)),
                     f"{result.seconds:.2f} s", agree])
    return rows


def _opinion(name: str, result: ModelResult) -> str:
    caveat = "" if is_confident(result) else ", low confidence"
    return f"{display_name(name)} says **{result.label}** ({result.confidence:.0%}{caveat})"


def verdict(recognition: Recognition) -> str:
    """A few sentences of Markdown: what the models see, how sure they are, and what was done to odd input."""
    return " ".join([_verdict(recognition), *recognition.notes])


def _verdict(recognition: Recognition) -> str:
    results = recognition.models
    if not any(is_confident(result) for result in results.values()):
        guesses = "; ".join(_opinion(name, result) for name, result in results.items())
        return (f"Neither model is confident: {guesses}. Treat this as a guess: the action may not be one "
                f"of the {len(next(iter(results.values())).classes)} actions the models know.")
    if models_agree(recognition):
        label = next(iter(results.values())).label
        scores = ", ".join(f"{display_name(name)} {result.confidence:.0%}" for name, result in results.items())
        return f"Both models see **{label}** ({scores})."
    return "The models disagree: " + "; ".join(_opinion(name, result) for name, result in results.items()) + "."


def timeline_figure(result: ModelResult, duration_s: float, top_k: int = 3) -> Figure:
    """Probability over time of the `top_k` classes of the whole video, one point per window."""
    figure = Figure(figsize=(6.4, 2.6), layout="constrained")
    axes = figure.add_subplot()
    centers = [(window.start_s + window.end_s) / 2 for window in result.timeline]
    probabilities = np.array([window.probabilities for window in result.timeline])
    for label, _ in result.top3[:top_k]:
        column = probabilities[:, result.classes.index(label)]
        axes.plot(centers, column, marker="o", markersize=4, label=label)
    axes.axhline(LOW_CONFIDENCE, color="0.6", linestyle=":", linewidth=1)
    axes.set(xlim=(0, max(duration_s, 1e-3)), ylim=(0, 1), xlabel="time (s), window centre",
             ylabel="probability", title=f"{display_name(result.model)}: top classes over time")
    axes.legend(loc="upper right", fontsize="small")
    return figure


def _describe_model(name: str, spec: ModelSpec) -> str:
    sampling = spec.sampling
    accuracy = spec.validation_accuracy
    validation = spec.training.get("validation", {})
    measured = (f"validation accuracy **{accuracy:.0%}** (top-1 on {validation.get('clips', '?')} clips from "
                f"groups the model never trained on)" if accuracy is not None else "no validation accuracy recorded")
    architecture = spec.architecture.removeprefix(f"{display_name(name)}: ")  # older files name the model twice
    cropping = " (black borders cut first)" if spec.crop_borders else ""
    return (f"- **{display_name(name)}**: {architecture}.\n"
            f"  Sees {sampling.num_frames} frames of {spec.image_size} px{cropping} over {sampling.window_seconds:g} s "
            f"windows, every {sampling.hop_seconds:g} s; {measured}.")


def about_models(specs: Mapping[str, ModelSpec]) -> str:
    """Markdown for the "About the models" section, read from the models' metadata."""
    classes = next(iter(specs.values())).classes
    models = "\n".join(_describe_model(name, spec) for name, spec in specs.items())
    return (f"Both models label a video with one of **{len(classes)} actions** from UCF101: "
            f"{', '.join(classes)}.\n\n{models}\n\n"
            f"A video longer than one window is scored window by window (the timeline); the answer is the "
            f"average. Below {LOW_CONFIDENCE:.0%} confidence an answer is marked as low confidence.")
