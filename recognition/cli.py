"""Command line: `python -m recognition predict|train|train-pose|evaluate|export|calibrate|join ...`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import typing
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from recognition.metadata import MODEL_NAMES, ModelSpec, metadata_path  # noqa: E402 (after the log level is set)
from recognition.metadata import WEIGHTS_DIR as DEFAULT_WEIGHTS  # noqa: E402
from recognition.training.config import RECIPES, TrainConfig  # noqa: E402


def _load_recognizer(weights: Path, engine: str = "auto"):
    from recognition.pipeline import Recognizer

    return Recognizer.load(weights, engine=engine)


def _answer(label: str, confidence: float, known: bool) -> str:
    """A label as the page writes it: plain, marked as a guess, or none of the known actions."""
    from recognition.report import LOW_CONFIDENCE

    if not known:
        return f"none of these (closest: {label})"
    return label if confidence >= LOW_CONFIDENCE else f"{label} (low confidence)"


def _format_result(summary: dict) -> str:
    from recognition.metadata import display_name
    from recognition.report import clock

    lines = [f"{summary['video']}  ({summary['duration_s']:.1f} s)"]
    for name, model in summary["models"].items():
        top3 = ", ".join(f"{label} {p:.0%}" for label, p in model["top3"])
        answer = _answer(model["label"], model["confidence"], model["known"])
        lines.append(f"  {display_name(name):<9} {answer:<18} {model['confidence']:>6.1%}   "
                     f"top-3: {top3}   ({model['seconds']:.2f} s)")
        if len(model["segments"]) > 1:
            lines += [f"    {clock(segment['start_s']):>5}-{clock(segment['end_s']):<5}  "
                      f"{_answer(segment['label'], segment['confidence'], segment['known']):<18} "
                      f"{segment['confidence']:>6.1%}" for segment in model["segments"]]
    lines += [f"  note: {note}" for note in summary.get("notes", [])]
    return "\n".join(lines)


def _error_line(video: Path, message: str) -> str:
    """The error, naming the file once: most messages already start with its name."""
    return f"error: {message}" if video.name in message else f"error: {video}: {message}"


def _predict(args: argparse.Namespace) -> int:
    from recognition.limits import Limits
    from recognition.video import VideoError

    recognizer = _load_recognizer(args.weights, args.engine)
    limits = Limits.from_env()
    failures = 0
    for video in args.videos:
        try:
            limits.check_file(video)
            summary = recognizer.recognize(video, output_dir=args.out).summary()
        except (VideoError, OSError) as error:
            failures += 1
            summary = {"video": str(video), "error": str(error)}
        if args.json:
            print(json.dumps(summary), flush=True)
        elif "error" in summary:
            print(_error_line(video, summary["error"]), file=sys.stderr, flush=True)
        else:
            print(_format_result(summary), flush=True)
    return 1 if failures else 0


def _evaluate(args: argparse.Namespace) -> int:
    from recognition.evaluation import evaluate
    from recognition.metadata import display_name

    shift = "letterbox" if args.letterbox else args.shift
    reports = evaluate(_load_recognizer(args.weights), args.data, args.out, shift, args.per_class)
    if args.json:
        print(json.dumps(reports))
        return 0
    for name, report in reports.items():
        if not report["clips"]:
            print(f"{display_name(name)}: {report['error']}")
            continue
        known = f", {report['known']:.0%} called known" if report["known"] is not None else ""
        low, high = report["top1_interval"]
        print(f"{display_name(name)}: top-1 {report['top1']:.1%} (95% interval {low:.1%}-{high:.1%}), "
              f"top-3 {report['top3']:.1%}, calibration error {report['ece']:.3f}{known} "
              f"on {report['clips']} {_shifted(shift)}clips of groups {report['groups']}")
        for label, accuracy in report["per_class"].items():
            print(f"    {label:<20} {accuracy:.0%}")
        for key in ("confusion_png", "reliability_png"):
            if key in report:
                print(f"    {key.removesuffix('_png')}: {report[key]}")
    return 0


def _shifted(shift: str | None) -> str:
    from recognition.shifts import SHIFTS

    return f"copies ({SHIFTS[shift][0]}) of " if shift else ""


def _calibrate(args: argparse.Namespace) -> int:
    from recognition.evaluation import calibrate

    try:
        calibrations = calibrate(args.weights, args.data, args.references_per_class, args.models, args.split_run,
                                 args.keep_familiarity)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, calibration in calibrations.items():
        fitted = calibration.fitted_on
        familiar = (f" and familiarity {calibration.familiarity_threshold:.3f}"
                    if calibration.familiarity_threshold is not None else "")
        pose = f", pose weight {calibration.pose_weight:.2f}" if calibration.pose_weight else ""
        print(f"{name.upper()}: temperature {calibration.temperature:.3f}{pose}, "
              f"known from {calibration.known_threshold:.1%}"
              f"{familiar} on {fitted['clips']} clips of groups {fitted['groups']}: calibration error "
              f"{fitted['ece_raw']:.3f} -> {fitted['ece_calibrated']:.3f} "
              f"({fitted['ece_calibrated_leave_one_group_out']:.3f} with each group left out of the fit), "
              f"{fitted['known_share']:.0%} called known"
              + (f" (taken from the split run {fitted['split_run']['file']})" if "split_run" in fitted else ""))
    print(f"written into the metadata in {args.weights}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from recognition.conversion import export
    from recognition.litert import CACHE_DIR

    for name in args.models:
        model = args.weights / f"{name}.keras"
        if not model.exists():
            print(f"error: no trained model {model}", file=sys.stderr)
            return 2
        data = args.data or ModelSpec.load(metadata_path(model)).training.get("data")
        if data is None or not Path(data).is_dir():
            print(f"{name}: no training clips at {data} to calibrate its int8 frame head on (pass --data)",
                  file=sys.stderr)
            data = None
        print(f"{name}: {export(model, args.out or CACHE_DIR, data)}", flush=True)
    return 0


def _train(args: argparse.Namespace) -> int:
    from recognition.backbones import get_backbone
    from recognition.training import train

    try:
        config = _train_config(args)
        backbone = get_backbone(config.backbone)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if "backbone_weights" not in vars(args) and backbone.default_weights() is None:
        print(f"error: no local weights for {config.backbone}: pass --backbone-weights FILE, or 'imagenet' "
              "(see docs/training.md)", file=sys.stderr)
        return 2
    train(config)
    return 0


def _train_pose(args: argparse.Namespace) -> int:
    from recognition.training.pose_head import train_pose

    try:
        spec = train_pose(args.data, args.out, args.validation_groups, args.all_groups, args.cache, args.seeds,
                          args.epochs)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"saved the pose head in {args.out} (then calibrate the models there: its weight in their answers is "
          f"fitted on held-out groups; trained on groups {spec.training['training_groups']})")
    return 0


def _join(args: argparse.Namespace) -> int:
    from recognition.training.join import join

    try:
        spec = join(args.models, args.out)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"saved {args.out / spec.name}.keras: {spec.training['hyperparameters']['members']} members "
          f"(calibrate it next: python -m recognition calibrate --weights {args.out} --models {spec.name})")
    return 0


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """A `TrainConfig` from the flags given; every other field keeps its default (settings nested in a
    field, such as `sampling.num_frames`, replace only themselves)."""
    given = {name: value for name, value in vars(args).items() if name not in ("command", "run")}
    defaults = TrainConfig.defaults()
    nested: dict[str, dict] = {}
    for name in [name for name in given if "." in name]:
        outer, inner = name.split(".")
        nested.setdefault(outer, {})[inner] = given.pop(name)
    for outer, values in nested.items():
        given[outer] = dataclasses.replace(defaults[outer], **values)
    return TrainConfig(**given)


def _add_flags(parser: argparse.ArgumentParser, config_class: type, prefix: str = "") -> None:
    """One flag per field of the dataclass `config_class`, with its words and default taken from the field.

    A field whose default is itself a dataclass (`SamplingSpec`, `MotionSpec`) gets a flag per field of it.
    Flags not given are left out of the parsed arguments, so the dataclass's own defaults apply.
    """
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        if dataclasses.is_dataclass(field.default):
            _add_flags(parser, type(field.default), f"{prefix}{field.name}.")
            continue
        kind = next((t for t in typing.get_args(hints[field.name]) if t is not type(None)), hints[field.name])
        options: dict = {"dest": prefix + field.name, "default": argparse.SUPPRESS}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(kind) is tuple:
            options.update(nargs="+", type=typing.get_args(kind)[0])
        else:
            options["type"] = kind
        if kind is not bool:
            options["metavar"] = field.name.upper()
        if "choices" in field.metadata:
            options["choices"] = field.metadata["choices"]
        words = field.metadata.get("help", "").replace("%", "%%")
        if field.default is dataclasses.MISSING:
            options["required"] = True
        elif field.default is None and any(field.name in recipe for recipe in RECIPES.values()):
            words += " (default: " + ", ".join(f"{a} {r[field.name]}" for a, r in RECIPES.items()) + ")"
        elif field.default is not None:
            words += f" (default: {field.default})"
        parser.add_argument(field.metadata.get("flag", "--" + field.name.replace("_", "-")), help=words, **options)


def build_parser() -> argparse.ArgumentParser:
    from recognition.shifts import SHIFTS

    parser = argparse.ArgumentParser(prog="python -m recognition", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    predict = commands.add_parser("predict", help="recognise the action in one or more videos")
    predict.add_argument("videos", nargs="+", type=Path, metavar="VIDEO")
    predict.add_argument("--out", type=Path, help="also write one annotated video per model here")
    predict.add_argument("--json", action="store_true", help="one JSON object per input, one per line")
    predict.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="folder of trained models")
    predict.add_argument("--engine", choices=["auto", "litert", "keras"], default="auto",
                         help="run the models through LiteRT (auto: when ai-edge-litert is installed) or Keras")
    predict.set_defaults(run=_predict)

    export = commands.add_parser("export", help="convert the trained models for LiteRT now, instead of at first use")
    export.add_argument("models", nargs="*", default=["lrcn", "convlstm"], metavar="MODEL")
    export.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="folder of trained models")
    export.add_argument("--out", type=Path, help="where the copies go (default: the cache, "
                        "~/.cache/action-lens/litert; the weights folder ships them beside the models)")
    export.add_argument("--data", type=Path, help="the clips the models were trained on, to calibrate their int8 "
                        "frame heads (default: the folder their metadata names)")
    export.set_defaults(run=_export)

    evaluate = commands.add_parser("evaluate", help="accuracy on clips of groups the models never trained on")
    evaluate.add_argument("--data", type=Path, required=True, help="folder of <Class>/*.mp4|avi clips")
    evaluate.add_argument("--out", type=Path, default=Path("evaluation"), help="where confusion matrices go")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--shift", choices=list(SHIFTS),
                          help="evaluate copies of the clips changed as web footage differs from UCF's "
                               "(see recognition/shifts.py)")
    evaluate.add_argument("--letterbox", action="store_true", help="the same as --shift letterbox")
    evaluate.add_argument("--per-class", type=int, help="at most this many clips per class (a quicker, fixed subset)")
    evaluate.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    evaluate.set_defaults(run=_evaluate)

    calibrate = commands.add_parser("calibrate", help="fit each model's confidence calibration and 'known' "
                                                      "threshold on its held-out groups, into its metadata")
    calibrate.add_argument("--data", type=Path, required=True, help="folder of <Class>/*.mp4|avi clips")
    calibrate.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    calibrate.add_argument("--references-per-class", type=int,
                           help="keep the windows of at most this many training clips per class (default: all)")
    calibrate.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES),
                           help="which models to calibrate (default: all), e.g. only the one retrained")
    calibrate.add_argument("--from", dest="split_run", type=Path, metavar="FOLDER",
                           help="for a model trained on every group (train --all-groups): a folder with the "
                                "metadata <name>.json of a calibrated run of the same recipe with groups held out, "
                                "whose calibration it takes")
    calibrate.add_argument("--keep-familiarity", action="store_true",
                           help="keep the familiarity already fitted beside each model (its encoders unchanged) "
                                "instead of describing its training clips again")
    calibrate.set_defaults(run=_calibrate)

    train = commands.add_parser("train", help="train one model on a UCF-style folder (see docs/training.md)")
    _add_flags(train, TrainConfig)
    train.set_defaults(run=_train)

    from recognition.training.pose_head import EPOCHS, LANDMARK_CACHE, SEEDS

    train_pose = commands.add_parser("train-pose", help="train the pose head that both models fuse "
                                                        "(see recognition/pose.py); calibrate them after")
    train_pose.add_argument("--data", type=Path, required=True, help="folder of <Class>/*.mp4|avi clips")
    train_pose.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help="the weights folder of the models "
                            "it joins")
    train_pose.add_argument("--validation-groups", type=int, nargs="+",
                            help="UCF groups held out for the report (default: the last 28%%, as train)")
    train_pose.add_argument("--all-groups", action="store_true", help="train on every group (for the models that "
                            "ship, trained so too)")
    train_pose.add_argument("--cache", type=Path, default=LANDMARK_CACHE,
                            help="where each clip's landmarks are kept between runs")
    train_pose.add_argument("--seeds", type=int, default=SEEDS, help=f"networks averaged (default: {SEEDS})")
    train_pose.add_argument("--epochs", type=int, default=EPOCHS, help=f"(default: {EPOCHS})")
    train_pose.set_defaults(run=_train_pose)

    join = commands.add_parser("join", help="join models of one architecture, trained in separate runs, "
                                            "into one model with all their members")
    join.add_argument("models", nargs="+", type=Path, metavar="MODEL.keras")
    join.add_argument("--out", type=Path, required=True, help="where the joined model and its metadata go")
    join.set_defaults(run=_join)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)
