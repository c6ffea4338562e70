"""Inference: a video in, one `ModelResult` per model out.

The video is decoded once for all models and streamed: as each batch of sampled
frames is decoded, every model's per-frame encoder runs on it through compiled
functions, and only the features are kept. Models built on the same frozen stem
share its output. Each frame is encoded once however many overlapping windows
share it; the sequence heads then score the windows in batches. A model with a
motion stream also gets each sampled frame's optical flow, computed as the frames
stream past. Where the weights folder has a pose head (see `recognition.pose`), the
body's landmarks are tracked over the same frames and its answers are fused into
each model's by that model's calibration.

Each model runs through LiteRT when it can (see `recognition.litert`), which
gives the same answers faster and without importing TensorFlow; `engine="keras"`
runs the saved Keras model itself.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import importlib.util
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from recognition.annotate import AnnotatedVideos
from recognition.engine import EngineModel, stem_fingerprint, weights_digest
from recognition.familiarity import Familiarity, familiarity_path, window_parts
from recognition.litert import LiteRTModel, NotConverted
from recognition.metadata import MODEL_NAMES, WEIGHTS_DIR, ModelSpec, display_name, metadata_path
from recognition.motion import FlowTracker
from recognition.pose import FRAME_FORMAT as POSE_FRAME_FORMAT
from recognition.pose import PoseHead, PoseTracker
from recognition.progress import Progress
from recognition.progress import no_progress as _no_progress
from recognition.results import ModelResult, Recognition
from recognition.sampling import SamplePlan, plan_samples
from recognition.video import SampleStream, VideoInfo, h264_writer, probe

ENCODER_BATCH = 8
EXTREME_ASPECT_RATIO = 4.0
TRUNCATION_SLACK_S = 0.5

ENGINES = ("auto", "litert", "keras")


def _stage(progress: Progress, start: float, end: float, duration_s: float, message: str) -> Callable[[float], None]:
    """A per-frame callback (the frame's time) that reports `progress` across [start, end] in 2 % steps."""
    reported = [-1.0]

    def on_frame(stamp: float) -> None:
        fraction = min(stamp / duration_s, 1.0) if duration_s > 0 else 1.0
        if fraction - reported[0] >= 0.02:
            reported[0] = fraction
            progress(start + fraction * (end - start), message)

    return on_frame


def _in_background(items: Iterable, depth: int = 2) -> Iterator:
    """`items`, produced by a thread of their own, up to `depth` ahead of the caller.

    The video decodes while the models work on the batch before (OpenCV and LiteRT
    both let go of the GIL). An error in producing comes out of the caller's loop;
    leaving the loop early stops the producer.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stopped, end = threading.Event(), object()

    def hand(item: object) -> bool:
        while not stopped.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            with contextlib.closing(iter(items)) as produced:
                for item in produced:
                    if not hand((item, None)):
                        return
            hand((end, None))
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread, which raises it
            hand((end, error))

    producer = threading.Thread(target=produce, name="decode", daemon=True)
    producer.start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stopped.set()
        producer.join()


class LoadedModel(EngineModel):
    """A saved model's parts as compiled Keras functions (`Recognizer.load(engine="keras")`)."""

    @classmethod
    def load(cls, path: Path) -> "LoadedModel":
        import keras
        import tensorflow as tf

        from recognition import contract

        spec = ModelSpec.load(metadata_path(path))
        parts = contract.split(keras.saving.load_model(path, compile=False))
        stem, frame_head, head = parts.stem, parts.frame_head, parts.sequence_head
        size = spec.image_size
        run_stem = tf.function(lambda x: stem(x, training=False),
                               input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
        run_frame_head = tf.function(lambda x: frame_head(x, training=False),
                                     input_signature=[tf.TensorSpec([None, *stem.output.shape[1:]], tf.float32)])
        encoders = [frame_head]
        run_motion_encoder = None
        if spec.motion is not None:
            motion_encoder = parts.motion_encoder
            if motion_encoder is None:
                raise ValueError(f"{path}: its metadata describes a motion stream that the model does not have")
            encoders.append(motion_encoder)
            run_motion_encoder = tf.function(
                lambda x: motion_encoder(x, training=False),
                input_signature=[tf.TensorSpec([None, *motion_encoder.input.shape[1:]], tf.float32)])
        window_specs = [tf.TensorSpec([None, spec.sampling.num_frames, *e.output.shape[1:]], tf.float32)
                        for e in encoders]
        score = tf.function(lambda x: head(x if len(x) > 1 else x[0], training=False), input_signature=[window_specs])
        return cls(spec, stem_fingerprint(spec, weights_digest(stem.get_weights())), run_stem, run_frame_head,
                   run_motion_encoder, lambda features: score([tf.constant(f, tf.float32) for f in features]).numpy())


def _load_litert(path: Path) -> LiteRTModel:
    """The LiteRT copy of a model; where it has none yet (a model trained here), converted first, into the cache.

    Conversion takes a minute or two with TensorFlow, once per model file.
    """
    try:
        return LiteRTModel.load(path)
    except NotConverted:
        from recognition.conversion import export

        export(path)
        return LiteRTModel.load(path)


class Recognizer:
    """Loads the shipped models once; `recognize()` runs them on a video."""

    def __init__(self, models: dict[str, EngineModel], calibrated: bool = True,
                 familiarities: dict[str, Familiarity] | None = None, pose: PoseHead | None = None):
        samplings = {m.spec.sampling for m in models.values()}
        if len(samplings) > 1 and any(m.spec.motion for m in models.values()):
            raise ValueError("a model with a motion stream needs every loaded model to sample frames alike: "
                             "its flow is computed between consecutive decoded samples")
        if pose is not None and samplings != {pose.spec.sampling}:
            raise ValueError("the pose head samples frames unlike the models it joins: its windows must be theirs")
        for name, model in models.items():
            calibration = model.spec.calibration
            if calibrated and calibration is not None and calibration.pose_weight and pose is None:
                raise ValueError(f"{name}'s calibration fuses a pose stream, but the weights folder has no pose head")
        self.models = models
        self.calibrated = calibrated
        """False gives each model's raw softmax (what `calibrate` fits on); True applies its calibration and
        measures familiarity (`load` reads neither when False)."""
        self.familiarities = dict(familiarities or {})
        """Per model, its training windows: how familiar each window looks (see `recognition.familiarity`)."""
        self.pose = pose
        """The pose head, whose answers each model's calibration fuses into its own (None: no pose stream)."""
        self.pose_tracker = PoseTracker() if pose is not None else None

    @classmethod
    def load(cls, weights_dir: str | os.PathLike = WEIGHTS_DIR, names: Sequence[str] = MODEL_NAMES,
             calibrated: bool = True, engine: str = "auto") -> "Recognizer":
        """The models in `weights_dir`, run by `engine`: "litert", "keras", or "auto" (LiteRT where it installs)."""
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}: choose from {', '.join(ENGINES)}")
        weights_dir = Path(weights_dir)
        missing = [name for name in names if not (weights_dir / f"{name}.keras").exists()]
        if missing:
            raise FileNotFoundError(f"no trained model for {', '.join(missing)} in {weights_dir}")
        if engine == "auto":
            engine = "litert" if importlib.util.find_spec("ai_edge_litert") else "keras"
        load = _load_litert if engine == "litert" else LoadedModel.load
        familiar = {name: familiarity_path(weights_dir / f"{name}.keras") for name in names} if calibrated else {}
        return cls({name: load(weights_dir / f"{name}.keras") for name in names}, calibrated,
                   {name: Familiarity.load(path) for name, path in familiar.items() if path.exists()},
                   PoseHead.load(weights_dir) if PoseHead.exists(weights_dir) else None)

    @property
    def specs(self) -> dict[str, ModelSpec]:
        return {name: model.spec for name, model in self.models.items()}

    def warm_up(self) -> None:
        """Run a short synthetic video through every stage once, so the first request is not slower.

        Tracing the compiled functions, the first CNN batch, starting the encoders:
        all of it happens here, at start-up, instead of in the first user's wait.
        """
        with tempfile.TemporaryDirectory(prefix="action-lens-warm-up-") as folder:
            clip = Path(folder) / "warm_up.mp4"
            noise = np.random.default_rng(0).integers(0, 256, (50, 240, 320, 3), np.uint8)
            writer = h264_writer(clip, (320, 240), fps=25.0)
            for frame in noise:
                writer.send(frame)
            writer.close()
            self.recognize(clip, output_dir=folder)

    def _encode(self, video: VideoInfo, times: np.ndarray, progress: Progress, stage_seconds: dict[str, float],
                with_pose: bool = True) -> tuple[dict[str, list[np.ndarray]], np.ndarray | None, float]:
        """Every model's features for the frames at `times`, encoded batch by batch as the video decodes.

        Only features are kept, never all the frames: per model, one array per encoder (the frame
        encoder, then the motion encoder if it has one). Returns them with the body's landmarks in each
        frame (when there is a pose head, `with_pose`) and the time of the last decoded frame, and adds
        the seconds spent decoding, in each model's encoders and tracking the body to `stage_seconds`.
        """
        formats = list(dict.fromkeys(m.spec.frame_format for m in self.models.values()))
        tracker = self.pose_tracker if with_pose else None
        if tracker is not None:
            formats.append(POSE_FRAME_FORMAT)
            tracker.reset()
        landmarks: list[np.ndarray] = []
        pose_seconds = [0.0]
        on_frame = _stage(progress, 0.0, 0.5, float(times[-1]), "Decoding video and running the CNNs")
        stream = SampleStream(video, times, formats, ENCODER_BATCH, on_frame)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in self.models}
        # Models that take the same flow from the same frames share one tracker: flow is computed once.
        flow_sources = {name: (m.spec.motion, m.spec.frame_format) for name, m in self.models.items() if m.spec.motion}
        flow_trackers = {source: FlowTracker(source[0]) for source in flow_sources.values()}
        motion_parts: dict[str, list[np.ndarray]] = {name: [] for name in flow_sources}
        stem_owners: dict[str, EngineModel] = {}
        for model in self.models.values():
            stem_owners.setdefault(model.stem_id, model)
        stem_seconds = dict.fromkeys(stem_owners, 0.0)
        started = time.perf_counter()
        def with_flows(batches: Iterable[dict]) -> Iterator[tuple[dict, dict[str, np.ndarray]]]:
            with contextlib.closing(_in_background(batches)) as decoded:
                for batch in decoded:
                    fields = {(motion, frame_format): flow.fields(batch[frame_format])
                              for (motion, frame_format), flow in flow_trackers.items()}
                    if tracker is not None:
                        tracking = time.perf_counter()
                        landmarks.append(tracker.track(batch[POSE_FRAME_FORMAT]))
                        pose_seconds[0] += time.perf_counter() - tracking
                    yield batch, {name: fields[source] for name, source in flow_sources.items()}

        # Decoding with optical flow and the body's landmarks, and the encoders, each run on a thread of their
        # own, a batch or two apart.
        with contextlib.closing(_in_background(with_flows(stream))) as batches:
            for batch, flows in batches:
                stems = {}
                for stem_id, model in stem_owners.items():
                    encoding = time.perf_counter()
                    stems[stem_id] = model.run_stem(np.asarray(batch[model.spec.frame_format], np.float32))
                    stem_seconds[stem_id] += time.perf_counter() - encoding
                for name, model in self.models.items():
                    encoding = time.perf_counter()
                    parts[name].append(np.asarray(model.run_frame_head(stems[model.stem_id])))
                    if name in flows:
                        motion_parts[name].append(np.asarray(model.run_motion_encoder(flows[name])))
                    stage_seconds[name] = stage_seconds.get(name, 0.0) + time.perf_counter() - encoding
        sharing = collections.Counter(m.stem_id for m in self.models.values())
        for name, model in self.models.items():  # a shared stem's time is split between its models
            stage_seconds[name] = stage_seconds.get(name, 0.0) + stem_seconds[model.stem_id] / sharing[model.stem_id]
        stage_seconds["decode"] = time.perf_counter() - started - sum(stage_seconds[n] for n in self.models)
        if tracker is not None:  # on the decoding thread, beside the encoders: part of "decode"'s wait, too
            stage_seconds["pose"] = pose_seconds[0]
        features = {name: [np.concatenate(chunks)] for name, chunks in parts.items()}
        for name, chunks in motion_parts.items():
            features[name].append(np.concatenate(chunks))
        return features, np.concatenate(landmarks) if tracker is not None else None, stream.last_frame_s

    def _plans(self, duration_s: float) -> tuple[dict[str, SamplePlan], np.ndarray]:
        """Every model's sampling plan, and the sorted union of their sample times (decoded once for all).

        The pose head samples as the models do (checked at loading), so it shares their plan.
        """
        plans = {name: plan_samples(duration_s, m.spec.sampling) for name, m in self.models.items()}
        return plans, np.unique(np.concatenate([plan.times for plan in plans.values()]))

    def _input_notes(self, info: VideoInfo) -> list[str]:
        """What was done to fit an odd video to the models, in words for the user."""
        notes = []
        window_s = max(m.spec.sampling.window_seconds for m in self.models.values())
        if info.frame_count == 1:
            notes.append("The video has a single frame: the models saw it repeated, so there is no motion to go on.")
        elif info.duration_s < window_s:
            notes.append(f"The video is {info.duration_s:.1f} s long, shorter than the {window_s:g} s window the "
                         "models look at: its frames were spread over one window.")
        if max(info.width, info.height) > EXTREME_ASPECT_RATIO * min(info.width, info.height):
            notes.append(f"The picture is {info.width}x{info.height}: it was squeezed into a square for the "
                         "models, which makes people look distorted.")
        return notes

    def _predict(self, info: VideoInfo, progress: Progress) -> Recognition:
        """Every model's result, with the duration covered, notes on the input, and seconds per stage.

        A file that ends early (truncated or damaged) is recognised over the part that decodes, with a note.
        """
        notes = self._input_notes(info)
        duration_s = info.duration_s
        plans, all_times = self._plans(duration_s)
        stage_seconds: dict[str, float] = {}
        features, landmarks, last_frame_s = self._encode(info, all_times, progress, stage_seconds)
        if last_frame_s < all_times[-1] - TRUNCATION_SLACK_S:
            duration_s = last_frame_s + 1.0 / info.fps
            notes.append(f"Only the first {duration_s:.1f} s of the {info.duration_s:.1f} s the file announces could "
                         "be decoded (it looks truncated or damaged): the answer covers that part.")
            plans, all_times = self._plans(duration_s)
            stage_seconds = {}
            features, landmarks, _ = self._encode(info, all_times, progress, stage_seconds)

        pose = None
        if landmarks is not None:
            started = time.perf_counter()
            plan = next(iter(plans.values()))
            pose = self.pose(landmarks[np.searchsorted(all_times, plan.times)][plan.window_indices()])
            stage_seconds["pose"] += time.perf_counter() - started
        results: dict[str, ModelResult] = {}
        for number, (name, model) in enumerate(self.models.items()):
            progress(0.5 + 0.1 * number / len(self.models), f"Running {display_name(name)}")
            started = time.perf_counter()
            plan = plans[name]
            taken = np.searchsorted(all_times, plan.times)
            frame_features = [encoded[taken] for encoded in features[name]]
            probabilities = model.score(frame_features, plan)
            familiarity = (self.familiarities[name].scores(window_parts(frame_features, plan.window_indices()))
                           if name in self.familiarities else None)
            calibration = model.spec.calibration if self.calibrated else None
            if calibration is not None:
                probabilities = calibration.apply(probabilities, pose)
            stage_seconds[name] += time.perf_counter() - started
            windows = [(w.start_s, w.end_s) for w in plan.windows]
            results[name] = ModelResult.from_windows(name, model.spec.classes, windows, probabilities,
                                                     stage_seconds[name], duration_s, calibration, familiarity)
        return Recognition(info.path, duration_s, results, tuple(notes), stage_seconds, pose)

    def describe_windows(self, video: str | os.PathLike) -> dict[str, list[np.ndarray]]:
        """Every model's window parts for `video` (see `recognition.familiarity`): what familiarity is measured on."""
        info = probe(video)
        plans, all_times = self._plans(info.duration_s)
        features, _, _ = self._encode(info, all_times, _no_progress, {}, with_pose=False)
        descriptors = {}
        for name in self.models:
            taken = np.searchsorted(all_times, plans[name].times)
            descriptors[name] = window_parts([f[taken] for f in features[name]], plans[name].window_indices())
        return descriptors

    def recognize(self, video: str | os.PathLike, output_dir: str | os.PathLike | None = None,
                  progress: Progress = _no_progress) -> Recognition:
        """Predict with every model; with `output_dir`, also write one annotated video per model.

        The video encoders start before the models run, so their start-up overlaps the models' work.
        """
        progress(0.0, "Reading video")
        info = probe(video)
        with contextlib.ExitStack() as stack:
            videos = (stack.enter_context(AnnotatedVideos(video, list(self.models), Path(output_dir), info))
                      if output_dir is not None else None)
            recognition = self._predict(info, progress)
            if videos is not None:
                started = time.perf_counter()
                on_frame = _stage(progress, 0.6, 1.0, recognition.duration_s, "Writing annotated videos")
                recognition = dataclasses.replace(
                    recognition, models=videos.write(recognition.models, on_frame),
                    stage_seconds={**recognition.stage_seconds, "annotate": time.perf_counter() - started})
        progress(1.0, "Done")
        return dataclasses.replace(recognition, video=str(video))
