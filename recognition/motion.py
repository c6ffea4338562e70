"""Optical flow between consecutive sampled frames: the input of LRCN's motion stream.

An RGB network on 575 training clips learns the training groups' rooms and
gyms, and so confuses actions filmed in similar places (squats, lunges, pull-ups).
Flow shows only how things move. It is computed with OpenCV's Farneback method
between each sampled frame and the one sampled before it (0.2 s apart), on a
small grey copy, so it costs about 1.5 ms per frame on one core. Training and
inference both compute it from the model-size RGB frames with `FlowTracker`,
so the model always sees flow made the same way.

Each field can have its median flow taken away: that is how the camera moved
(pans, shake), which differs from one UCF group to the next (each was filmed by
someone else), while the body's own motion is what tells the actions apart.
The motion stream learns the actions better from what is left (on g21-g25,
from 64 % to 72 % with seed 1) at about 0.1 ms per field.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class MotionSpec:
    """Flow is computed on `flow_size` grey frames and fed to the model at `field_size`."""

    flow_size: int = dataclasses.field(default=112, metadata={"help": "size of the grey frames flow is computed on"})
    field_size: int = dataclasses.field(default=56, metadata={"help": "size of the flow fields the model takes"})
    subtract_camera_motion: bool = dataclasses.field(default=True, metadata={
        "help": "take each flow field's median (the camera's own motion) away before the motion stream sees it"})


class FlowTracker:
    """Turns a stream of sampled RGB frames into flow fields, one per frame.

    The first frame ever seen gets a zero field (nothing came before it); after
    that, each frame's field is the motion from the previous frame, across
    batches, so a video can be fed in pieces as it decodes.
    """

    def __init__(self, spec: MotionSpec):
        self.spec = spec
        self.previous: np.ndarray | None = None

    def fields(self, frames: np.ndarray) -> np.ndarray:
        """(n, field_size, field_size, 2) float32 flow in pixels of the field, for `frames` (n, h, w, 3) uint8 RGB."""
        out = np.zeros((len(frames), self.spec.field_size, self.spec.field_size, 2), np.float32)
        for index, frame in enumerate(frames):
            grey = cv2.resize(cv2.cvtColor(np.asarray(frame), cv2.COLOR_RGB2GRAY),
                              (self.spec.flow_size, self.spec.flow_size), interpolation=cv2.INTER_AREA)
            if self.previous is not None:
                out[index] = self._field(self.previous, grey)
            self.previous = grey
        return out

    def _field(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        flow = cv2.calcOpticalFlowFarneback(before, after, None, pyr_scale=0.5, levels=3, winsize=15,
                                            iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
        size = self.spec.field_size
        field = cv2.resize(flow, (size, size), interpolation=cv2.INTER_AREA) * (size / self.spec.flow_size)
        if self.spec.subtract_camera_motion:
            field -= np.median(field.reshape(-1, 2), axis=0)
        return field


def clip_flow(frames: np.ndarray, spec: MotionSpec) -> np.ndarray:
    """Flow fields of one clip's sampled frames (the first one zero)."""
    return FlowTracker(spec).fields(frames)
