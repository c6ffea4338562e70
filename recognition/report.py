"""A recognition, explained: verdict, comparison and segment tables, timeline plots, model notes.

Plain strings and matplotlib figures, so the app only lays them out. A model
that is less than `LOW_CONFIDENCE` sure says so: a guess is shown as a guess.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib import colormaps, rc_context
from matplotlib.figure import Figure

from recognition.metadata import ModelSpec, display_name
from recognition.results import ModelResult, Recognition
from recognition.segments import Segment

LOW_CONFIDENCE = 0.5
TABLE_HEADERS = ["Model", "Predicted action", "Confidence", "Top 3", "Windows", "Inference time",
                 "Models agree"]
SEGMENT_HEADERS = ["Model", "From", "To", "Action", "Confidence"]
FIGURE_STYLE = {"font.size": 13, "axes.titlesize": 14, "legend.fontsize": 12}


def how_to_read(specs: Mapping[str, ModelSpec]) -> str:
    """One line for the page: how the video-level answer relates to the windows and to the segments."""
    sampling = next(iter(specs.values())).sampling
    return (f"Each model scores the video window by window ({sampling.window_seconds:g} s each, one every "
            f"{sampling.hop_seconds:g} s). Its answer in the table is the average over all its windows; its segments "
            "are the stretches where its smoothed window labels stay the same, and the labels on its video "
            "follow the segments.")


def is_confident(result: ModelResult | Segment) -> bool:
    return result.confidence >= LOW_CONFIDENCE


def models_agree(recognition: Recognition) -> bool:
    return len({result.label for result in recognition.models.values()}) == 1


def clock(seconds: float) -> str:
    """`m:ss`, as a video player shows time."""
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}:{seconds:02d}"


def not_known(label: str, confidence: float, classes: int) -> str:
    """The sentence for an answer that is none of the actions the models know."""
    return (f"This doesn't look like any of the {classes} actions these models know "
            f"(closest: {label}, {confidence:.0%}).")


def _answer(result: ModelResult | Segment, classes: int) -> str:
    """A label as the table writes it: plain, marked as a guess, or refused; a video of several actions names them."""
    if isinstance(result, ModelResult) and len(result.segments) > 1:
        actions = list(dict.fromkeys(_answer(segment, classes) for segment in result.segments))
        return f"{len(result.segments)} segments: {', '.join(actions)}"
    if not result.known:
        return f"none of the {classes} known actions (closest: {result.label})"
    return result.label if is_confident(result) else f"{result.label} (low confidence)"


def comparison_rows(recognition: Recognition) -> list[list[str]]:
    """One row per model, in `TABLE_HEADERS` order."""
    agree = "yes" if models_agree(recognition) else "no"
    rows = []
    for name, result in recognition.models.items():
        top3 = ", ".join(f"{label} {p:.0%}" for label, p in result.top3)
        rows.append([display_name(name), _answer(result, len(result.classes)), f"{result.confidence:.0%}", top3,
                     str(len(result.timeline)), f"{result.seconds:.2f} s", agree])
    return rows


def segment_rows(recognition: Recognition) -> list[list[str]]:
    """Every model's segments, one row each, in `SEGMENT_HEADERS` order."""
    return [[display_name(name), clock(segment.start_s), clock(segment.end_s),
             _answer(segment, len(result.classes)), f"{segment.confidence:.0%}"]
            for name, result in recognition.models.items() for segment in result.segments]


def verdict(recognition: Recognition) -> str:
    """A few sentences of Markdown: what the models see, how sure they are, and what was done to odd input."""
    results = recognition.models
    several = any(len(result.segments) > 1 for result in results.values())
    return " ".join([_story(recognition) if several else _verdict(recognition), *recognition.notes])


def _opinion(name: str, result: ModelResult) -> str:
    if not result.known:
        return (f"{display_name(name)} sees none of the actions it knows "
                f"(closest: {result.label}, {result.confidence:.0%})")
    caveat = "" if is_confident(result) else ", low confidence"
    return f"{display_name(name)} says **{result.label}** ({result.confidence:.0%}{caveat})"


def _verdict(recognition: Recognition) -> str:
    """One action for the whole video."""
    results = recognition.models
    classes = len(next(iter(results.values())).classes)
    if not any(result.known for result in results.values()):
        joint = np.mean([result.probabilities for result in results.values()], axis=0)
        closest = int(np.argmax(joint))
        return not_known(next(iter(results.values())).classes[closest], float(joint[closest]), classes) + (
            " " + "; ".join(_opinion(name, result) for name, result in results.items()) + ".")
    if not any(is_confident(result) for result in results.values()):
        guesses = "; ".join(_opinion(name, result) for name, result in results.items())
        return f"Neither model is confident: {guesses}. Treat this as a guess."
    if models_agree(recognition) and all(result.known for result in results.values()):
        label = next(iter(results.values())).label
        scores = [f"{display_name(name)} {result.confidence:.0%}" + ("" if is_confident(result) else ", low confidence")
                  for name, result in results.items()]
        scores = ("; " if any(not is_confident(result) for result in results.values()) else ", ").join(scores)
        return f"Both models see **{label}** ({scores})."
    return "The models disagree: " + "; ".join(_opinion(name, result) for name, result in results.items()) + "."


def _segment_text(segment: Segment) -> str:
    """A segment in the verdict: its time span and label, and its confidence only when it is a doubtful one."""
    span = f"{clock(segment.start_s)}-{clock(segment.end_s)}"
    if not segment.known:
        return f"{span} none of the known actions (closest: {segment.label}, {segment.confidence:.0%})"
    if not is_confident(segment):
        return f"{span} **{segment.label}** ({segment.confidence:.0%}, low confidence)"
    return f"{span} **{segment.label}**"


def _story(recognition: Recognition) -> str:
    """Several actions in a row: the segments, in order, once if the models tell the same story."""
    results = recognition.models
    stories = {name: [(segment.label, segment.known) for segment in result.segments]
               for name, result in results.items()}
    if len({tuple(story) for story in stories.values()}) == 1:
        first = next(iter(results.values()))
        segments = ", ".join(_segment_text(segment) for segment in first.segments)
        return f"The video shows {len(first.segments)} parts, and both models see the same ones: {segments}."
    tellings = "; ".join(f"{display_name(name)}: "
                         + ", ".join(_segment_text(segment) for segment in result.segments)
                         for name, result in results.items())
    return f"The video shows several actions, and the models disagree on them. {tellings}."


def label_colours(classes: tuple[str, ...]) -> dict[str, tuple[float, ...]]:
    """One colour per class, the same in every plot."""
    palette = colormaps["tab20"].colors
    return {label: palette[(2 * i) % 20 + (2 * i) // 20] for i, label in enumerate(classes)}


def timeline_figure(result: ModelResult, duration_s: float) -> Figure:
    """A strip of the model's segments over time, above the probability of each label that occurs in the video.

    The labels drawn are the segments' and the video-level answer's, so every action the
    model finds gets its line, however short. The figure is narrow and its text large, so
    it stays readable when a phone shrinks it to the screen's width.
    """
    colours = label_colours(result.classes)
    end = max(duration_s, 1e-3)
    with rc_context(FIGURE_STYLE):
        figure = Figure(figsize=(4.8, 4.0), dpi=120, layout="constrained")
        strip, axes = figure.subplots(2, 1, sharex=True, height_ratios=[1, 3])
        for segment in result.segments:
            width = segment.end_s - segment.start_s
            strip.broken_barh([(segment.start_s, width)], (0, 1), facecolors=colours[segment.label],
                              edgecolor="white", linewidth=1, hatch=None if segment.known else "//")
            if width / end >= 0.022 * len(segment.label) + 0.01:  # the label fits in its bar
                strip.text(segment.start_s + width / 2, 0.5, segment.label, ha="center", va="center", fontsize=10,
                           clip_on=True)
        strip.set(ylim=(0, 1), yticks=[], title=f"{display_name(result.model)}: segments")
        centers = [(window.start_s + window.end_s) / 2 for window in result.timeline]
        probabilities = np.array([window.probabilities for window in result.timeline])
        labels = list(dict.fromkeys([result.label, *(segment.label for segment in result.segments)]))
        for label in labels:
            axes.plot(centers, probabilities[:, result.classes.index(label)], marker="o", markersize=3,
                      color=colours[label], label=label)
        axes.axhline(LOW_CONFIDENCE, color="0.6", linestyle=":", linewidth=1)
        axes.set(xlim=(0, end), ylim=(0, 1), xlabel="time (s), window centre", ylabel="probability")
        figure.legend(loc="outside lower center", ncols=min(len(labels), 2), frameon=False)
    return figure


def _describe_model(name: str, spec: ModelSpec) -> str:
    sampling = spec.sampling
    accuracy = spec.validation_accuracy
    validation = spec.training.get("validation") or {}
    split_run = spec.calibration.fitted_on if spec.calibration and "split_run" in spec.calibration.fitted_on else None
    if accuracy is not None:
        measured = (f"validation accuracy **{accuracy:.0%}** (top-1 on {validation.get('clips', '?')} clips from "
                    f"groups the model never trained on)")
    elif split_run is not None:
        groups = split_run["groups"]
        measured = (f"trained on every group; the same recipe trained without g{groups[0]:02d}-g{groups[-1]:02d} "
                    f"was right on **{split_run['top1']:.0%}** of their {split_run['clips']} clips")
    else:
        measured = "no validation accuracy recorded"
    architecture = spec.architecture.removeprefix(f"{display_name(name)}: ")  # older files name the model twice
    cropping = " (black borders cut first)" if spec.crop_borders else ""
    if spec.calibration is not None and spec.calibration.pose_weight:
        architecture += (f"; fused with the pose stream (a GRU over BlazePose's body landmarks) at "
                         f"{spec.calibration.pose_weight:.0%}")
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
