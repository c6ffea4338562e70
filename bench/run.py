"""Speed of the full path against the Keras engine and the tutorial loop, start-up time and peak memory.

    python -m bench                 # everything; the speed part alone takes 13 to 18 minutes with --runs 1 on 2 cores
    python -m bench --only speed --runs 1 --skip-tutorial     # LiteRT against Keras only: a few minutes
    python -m bench --only cold-start

The full path is what a user waits for: decode once, run both models over every
window, write two annotated H.264 videos. It runs through LiteRT (the default
engine) and, for comparison in the same process, through the Keras models.
The tutorial loop runs the same two models on the same video, one
`model.predict` per frame (see bench/tutorial.py). Runs alternate and the table
shows medians. Absolute seconds depend on the machine; the ratios are the
figures to compare. The stages overlap: `pose` is the time the decoding thread
spent tracking the body, beside the models' encoders, and `decode` is the rest
of the wall time outside the models, the wait for decoding and tracking included.
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

from bench import inputs, tutorial
from recognition import MODEL_NAMES, Recognizer
from recognition.metadata import WEIGHTS_DIR as WEIGHTS
from recognition.video import probe

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("decode", "pose", *MODEL_NAMES, "annotate")


def _cpu_seconds() -> float:
    """CPU seconds used so far by this process and the children it waited for (ffmpeg): all threads, all cores."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _time_ours(recognizer: Recognizer, video: Path, folder: Path) -> dict[str, float]:
    """Wall seconds per stage and in total, and the CPU seconds of the whole run.

    On a shared machine the wall times swing with the other work on it; the CPU
    seconds measure our own work and swing much less.
    """
    started, cpu = time.perf_counter(), _cpu_seconds()
    result = recognizer.recognize(video, output_dir=folder)
    return {**result.stage_seconds, "total": time.perf_counter() - started, "cpu": _cpu_seconds() - cpu}


def _time_tutorial(models: dict, recognizer: Recognizer, video: Path,
                   folder: Path) -> dict[str, float]:
    seconds = {}
    for name, model in models.items():
        started = time.perf_counter()
        tutorial.predict_on_video(model, recognizer.specs[name], video, folder / f"tutorial_{name}.mp4")
        seconds[name] = time.perf_counter() - started
    return {**seconds, "total": sum(seconds.values())}


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def speed(videos: list[Path], runs: int, folder: Path, with_tutorial: bool = True) -> list[dict]:
    """Medians of `runs` alternating runs of ours (LiteRT), the Keras engine and the tutorial loop, per video."""
    recognizer, keras_engine = Recognizer.load(WEIGHTS, engine="litert"), Recognizer.load(WEIGHTS, engine="keras")
    recognizer.warm_up()
    keras_engine.warm_up()
    if with_tutorial:
        import keras

        models = {name: keras.saving.load_model(WEIGHTS / f"{name}.keras") for name in MODEL_NAMES}
    rows = []
    for video in videos:
        ours, on_keras, baseline = [], [], []
        for _ in range(runs):
            ours.append(_time_ours(recognizer, video, folder))
            on_keras.append(_time_ours(keras_engine, video, folder))
            if with_tutorial:
                baseline.append(_time_tutorial(models, recognizer, video, folder))
        info = probe(video)
        row = {"video": video.name, "duration_s": info.duration_s, "size": f"{info.width}x{info.height}",
               "runs": runs, "ours_s": _medians(ours), "keras_engine_s": _medians(on_keras)}
        row["realtime_factor"] = info.duration_s / row["ours_s"]["total"]
        row["keras_engine_realtime_factor"] = info.duration_s / row["keras_engine_s"]["total"]
        if with_tutorial:
            row["tutorial_s"] = _medians(baseline)
            row["speedup_vs_tutorial"] = row["tutorial_s"]["total"] / row["ours_s"]["total"]
        rows.append(row)
        print(_speed_line(row), flush=True)
    return rows


def _speed_line(row: dict) -> str:
    lines = []
    for engine, key in (("litert", "ours_s"), ("keras", "keras_engine_s")):
        seconds = row[key]
        stages = "  ".join(f"{seconds.get(stage, 0.0):6.2f}" for stage in STAGES)
        line = (f"{row['video'][:24]:<24} {row['size']:>9} {engine:>6} {row['duration_s']:6.1f}  {stages}  "
                f"{seconds['total']:7.2f}  {row['duration_s'] / seconds['total']:6.1f}x  {seconds['cpu']:6.2f}")
        if engine == "litert" and "tutorial_s" in row:
            line += f"  {row['tutorial_s']['total']:8.1f}  {row['speedup_vs_tutorial']:6.1f}x"
        lines.append(line)
    return "\n".join(lines)


SPEED_HEADER = (f"{'video':<24} {'size':>9} {'engine':>6} {'dur s':>6}  "
                + "  ".join(f"{stage:>6}"[:8] for stage in STAGES) + f"  {'total':>7}  {'xRT':>7}  {'cpu s':>6}  "
                f"{'tutorial':>8}  {'ratio':>7}")

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


def cold_start(clip: Path, runs: int, folder: Path) -> dict:
    """`python -m recognition predict CLIP --out DIR --json` in a fresh process, per engine: medians of `runs`."""
    figures = {}
    for engine in ("litert", "keras"):
        seconds, cpu = [], []
        for _ in range(runs):
            started, used = time.perf_counter(), _cpu_seconds()
            subprocess.run([sys.executable, "-m", "recognition", "predict", str(clip), "--out", str(folder / "cold"),
                            "--json", "--engine", engine], cwd=ROOT, check=True, capture_output=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
            seconds.append(time.perf_counter() - started)
            cpu.append(_cpu_seconds() - used)
        figures[engine] = {"median_s": statistics.median(seconds), "runs_s": seconds,
                           "median_cpu_s": statistics.median(cpu)}
        print(f"cold start of predict on a {probe(clip).duration_s:.1f}-s clip, {engine}: "
              f"{figures[engine]['median_s']:.2f} s (median of " + ", ".join(f"{s:.2f}" for s in seconds)
              + f"), {figures[engine]['median_cpu_s']:.2f} CPU s",
              flush=True)
    return figures


def memory(seconds: float, folder: Path) -> dict:
    """Peak RSS of `python -m recognition predict --out` on a long 720p video, in a fresh process."""
    video = inputs.test_pattern(seconds, folder / "long_720p.mp4")
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        predict = subprocess.Popen(
            [sys.executable, "-m", "recognition", "predict", str(video), "--out", str(folder / "out")],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "ACTION_LENS_MAX_SECONDS": str(seconds + 60),
                 "ACTION_LENS_MAX_MB": str(video.stat().st_size / 1e6 + 1)})
        # This child's own peak: RUSAGE_CHILDREN would give the largest of every child so far (a Keras run).
        _, status, usage = os.wait4(predict.pid, 0)
        predict.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        if predict.returncode:
            errors.seek(0)
            raise RuntimeError(f"predict failed on the long video:\n{errors.read()[-2000:]}")
    peak_mb = usage.ru_maxrss / 1024
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
    parser.add_argument("--only", choices=["speed", "startup", "cold-start", "memory"], action="append")
    parser.add_argument("--skip-tutorial", action="store_true", help="time ours and the Keras engine only")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args(argv)
    sections = args.only or ["speed", "startup", "cold-start", "memory"]
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
            long_720p = inputs.assemble(clips, args.long_seconds,
                                        folder / f"assembled_{args.long_seconds:.0f}s_720p.mp4", size=(1280, 720))
            print(SPEED_HEADER, flush=True)
            save("speed", speed([clips[0], long_video, long_720p], args.runs, folder, not args.skip_tutorial))
        if "startup" in sections:
            save("startup", startup(clips[0], folder))
        if "cold-start" in sections:
            save("cold_start", cold_start(inputs.trimmed(clips[0], 1.0, folder / "one_second.mp4"), args.runs,
                                          folder))
        if "memory" in sections:
            save("memory", memory(args.memory_seconds, folder))
    print(f"wrote {args.json}")
    return 0
