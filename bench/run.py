"""Speed of the full path against the tutorial loop, start-up time and peak memory.

    python -m bench                 # everything; the speed part alone takes 13 to 18 minutes with --runs 1 on 2 cores
    python -m bench --only speed --runs 1

The full path is what a user waits for: decode once, run both models over every
window, write two annotated H.264 videos. The tutorial loop runs the same two
models on the same video, one `model.predict` per frame (see bench/tutorial.py).
Runs alternate between the two and the table shows medians. Absolute seconds
depend on the machine; the ratios are the figures to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras

from bench import inputs, tutorial
from recognition import MODEL_NAMES, Recognizer
from recognition.metadata import WEIGHTS_DIR as WEIGHTS
from recognition.video import probe

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("decode", *MODEL_NAMES, "annotate")


def _time_ours(recognizer: Recognizer, video: Path, folder: Path) -> dict[str, float]:
    started = time.perf_counter()
    result = recognizer.recognize(video, output_dir=folder)
    return {**result.stage_seconds, "total": time.perf_counter() - started}


def _time_tutorial(models: dict[str, keras.Model], recognizer: Recognizer, video: Path,
                   folder: Path) -> dict[str, float]:
    seconds = {}
    for name, model in models.items():
        started = time.perf_counter()
        tutorial.predict_on_video(model, recognizer.specs[name], video, folder / f"tutorial_{name}.mp4")
        seconds[name] = time.perf_counter() - started
    return {**seconds, "total": sum(seconds.values())}


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def speed(videos: list[Path], runs: int, folder: Path) -> list[dict]:
    """Medians of `runs` alternating runs of ours and the tutorial loop, per video."""
    recognizer = Recognizer.load(WEIGHTS)
    recognizer.warm_up()
    models = {name: keras.saving.load_model(WEIGHTS / f"{name}.keras") for name in MODEL_NAMES}
    rows = []
    for video in videos:
        ours, baseline = [], []
        for _ in range(runs):
            ours.append(_time_ours(recognizer, video, folder))
            baseline.append(_time_tutorial(models, recognizer, video, folder))
        info = probe(video)
        row = {"video": video.name, "duration_s": info.duration_s, "size": f"{info.width}x{info.height}",
               "runs": runs, "ours_s": _medians(ours), "tutorial_s": _medians(baseline)}
        row["realtime_factor"] = info.duration_s / row["ours_s"]["total"]
        row["speedup_vs_tutorial"] = row["tutorial_s"]["total"] / row["ours_s"]["total"]
        rows.append(row)
        print(_speed_line(row), flush=True)
    return rows


def _speed_line(row: dict) -> str:
    ours = row["ours_s"]
    stages = "  ".join(f"{ours[stage]:6.2f}" for stage in STAGES)
    return (f"{row['video'][:28]:<28} {row['duration_s']:6.1f}  {stages}  {ours['total']:7.2f}  "
            f"{row['realtime_factor']:6.1f}x  {row['tutorial_s']['total']:8.1f}  {row['speedup_vs_tutorial']:6.1f}x")


SPEED_HEADER = (f"{'video':<28} {'dur s':>6}  " + "  ".join(f"{stage:>6}"[:8] for stage in STAGES)
                + f"  {'total':>7}  {'xRT':>7}  {'tutorial':>8}  {'ratio':>7}")

_STARTUP = """
import time, json, sys
started = time.perf_counter()
import app
from recognition import Recognizer
imported = time.perf_counter()
recognizer = Recognizer.load(app.WEIGHTS_DIR)
recognizer.warm_up()
ready = time.perf_counter()
requests = []
for _ in range(3):
    begin = time.perf_counter()
    recognizer.recognize(sys.argv[1], output_dir=sys.argv[2])
    requests.append(time.perf_counter() - begin)
print(json.dumps({"imports_s": imported - started, "models_s": ready - imported, "startup_s": ready - started,
                  "first_request_s": requests[0], "later_requests_s": requests[1:]}))
"""


def startup(clip: Path, folder: Path) -> dict:
    """A fresh process: import the app, load and warm up both models, then three requests."""
    done = subprocess.run([sys.executable, "-c", _STARTUP, str(clip), str(folder)], cwd=ROOT, check=True,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"start-up {figures['startup_s']:.1f} s (imports {figures['imports_s']:.1f} s, models and warm-up "
          f"{figures['models_s']:.1f} s); first request {figures['first_request_s']:.2f} s, later "
          + ", ".join(f"{s:.2f} s" for s in figures["later_requests_s"]), flush=True)
    return figures


def memory(seconds: float, folder: Path) -> dict:
    """Peak RSS of `python -m recognition predict --out` on a long 720p video, in a fresh process."""
    video = inputs.test_pattern(seconds, folder / "long_720p.mp4")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "recognition", "predict", str(video), "--out", str(folder / "out")],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ACTION_LENS_MAX_SECONDS": str(seconds + 60),
             "ACTION_LENS_MAX_MB": str(video.stat().st_size / 1e6 + 1)})
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"predict failed on the long video:\n{done.stderr[-2000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    info = probe(video)
    figures = {"video": f"{info.duration_s:.0f} s {info.width}x{info.height}", "peak_rss_mb": peak_mb,
               "seconds": elapsed, "realtime_factor": info.duration_s / elapsed}
    print(f"{figures['video']}: peak RSS {peak_mb:.0f} MB, {elapsed:.0f} s "
          f"({figures['realtime_factor']:.1f}x real time, process start included)", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="alternating runs per video (medians are shown)")
    parser.add_argument("--long-seconds", type=float, default=60, help="length of the assembled video")
    parser.add_argument("--memory-seconds", type=float, default=600, help="length of the 720p memory video")
    parser.add_argument("--only", choices=["speed", "startup", "memory"], action="append")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args(argv)
    sections = args.only or ["speed", "startup", "memory"]
    if not inputs.SHARED_UCF14.is_dir():
        print(f"the benchmark needs the UCF clips in {inputs.SHARED_UCF14}", file=sys.stderr)
        return 2

    results = json.loads(args.json.read_text()) if args.json.exists() else {}
    results["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()}

    def save(section: str, figures: object) -> None:
        """Each section replaces its part of the JSON as soon as it is done."""
        results[section] = figures
        args.json.write_text(json.dumps(results, indent=2) + "\n")

    with tempfile.TemporaryDirectory(prefix="action-lens-bench-") as temporary:
        folder = Path(temporary)
        clips = inputs.validation_clips()
        if "speed" in sections:
            long_video = inputs.assemble(clips, args.long_seconds, folder / f"assembled_{args.long_seconds:.0f}s.mp4")
            print(SPEED_HEADER, flush=True)
            save("speed", speed([clips[0], long_video], args.runs, folder))
        if "startup" in sections:
            save("startup", startup(clips[0], folder))
        if "memory" in sections:
            save("memory", memory(args.memory_seconds, folder))
    print(f"wrote {args.json}")
    return 0
