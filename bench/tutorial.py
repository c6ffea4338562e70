"""The classic tutorial's prediction loop, kept as the baseline the pipeline is measured against.

It keeps a deque of the last N frames, runs the whole model (CNN included) with
`model.predict` on every new frame once the deque is full, and writes the
labelled frames with OpenCV's mp4v writer. Every frame's CNN features are thus
recomputed N times, and the output does not play in browsers. A model with a
motion stream also gets the last N flow fields, one per decoded frame.
"""

from __future__ import annotations

import collections
from pathlib import Path

import cv2
import keras
import numpy as np

from recognition.metadata import ModelSpec
from recognition.motion import FlowTracker


def predict_on_video(model: keras.Model, spec: ModelSpec, video: Path, output: Path) -> str:
    """Label every frame of `video` with the tutorial's loop; returns the last label."""
    reader = cv2.VideoCapture(str(video))
    fps = reader.get(cv2.CAP_PROP_FPS)
    size = (int(reader.get(cv2.CAP_PROP_FRAME_WIDTH)), int(reader.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(str(output), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    frames = collections.deque(maxlen=spec.sampling.num_frames)
    flows = collections.deque(maxlen=spec.sampling.num_frames)
    tracker = FlowTracker(spec.motion) if spec.motion else None
    label = ""
    while reader.isOpened():
        ok, frame = reader.read()
        if not ok:
            break
        resized = cv2.resize(frame, (spec.image_size, spec.image_size))
        rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        frames.append(rgb.astype(np.float32))
        if tracker is not None:
            flows.append(tracker.fields(rgb[None])[0])
        if len(frames) == frames.maxlen:
            inputs = [np.array(frames)[None]] + ([np.array(flows)[None]] if tracker else [])
            probabilities = model.predict(inputs if tracker else inputs[0], verbose=0)[0]
            label = spec.classes[int(np.argmax(probabilities))]
        cv2.putText(frame, label, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 255, 0), 2)
        writer.write(frame)
    reader.release()
    writer.release()
    return label
