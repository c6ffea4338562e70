"""Admission by expected work: a request may wait only if its turn comes within the time limit.

One video is processed at a time (the models use every core), so what a newcomer
waits for is the video queued ahead of it, not the number of requests: twenty
clips of a few seconds are less work than one ten-minute film. Each request
brings its seconds of video (from the file's header); the server learns how many
seconds of work a second of video takes from the requests it finishes (a moving
average). A request whose wait would pass the limit is turned away at once, with
the wait in the sentence, and one that may wait is told its place and wait.

    line = WorkQueue(max_wait_s=300)
    with line.turn(video_seconds, on_wait=lambda ahead, wait_s: ...):
        ...  # the work; how long it took updates the rate
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from recognition.limits import describe_seconds
from recognition.video import VideoError

DEFAULT_SECONDS_PER_VIDEO_SECOND = 0.5
"""The rate assumed until the first request finishes: on the slow side of what the shipped models take."""
SMOOTHING = 0.3
"""The weight of the latest finished request in the moving average of the rate."""
MIN_BILLED_SECONDS = 4.0
"""A clip shorter than this costs about as much: one window of frames, and the fixed work around it."""
REPORT_EVERY_S = 1.0


class Busy(VideoError):
    """The work queued ahead is more than a request may wait; the message is meant for the user."""


@dataclasses.dataclass(eq=False)
class _Request:
    work_s: float
    started: float | None = None


def describe_wait(ahead: int, wait_s: float) -> str:
    """'Waiting for your turn: 2 videos ahead, about 15 s', for the progress line."""
    videos = "1 video" if ahead == 1 else f"{ahead} videos"
    return f"Waiting for your turn: {videos} ahead, about {describe_seconds(max(wait_s, 1.0))}"


class WorkQueue:
    """The requests waiting or running, first come first served, with the work each is expected to take."""

    def __init__(self, max_wait_s: float, seconds_per_video_second: float = DEFAULT_SECONDS_PER_VIDEO_SECOND,
                 smoothing: float = SMOOTHING, clock: Callable[[], float] = time.monotonic):
        self.max_wait_s = max_wait_s
        self.seconds_per_video_second = seconds_per_video_second
        self.smoothing = smoothing
        self.clock = clock
        self._line: list[_Request] = []
        self._changed = threading.Condition()

    def expected_work_s(self, video_seconds: float) -> float:
        """Seconds a video of `video_seconds` is expected to take, at the measured rate."""
        return max(video_seconds, MIN_BILLED_SECONDS) * self.seconds_per_video_second

    def wait_s(self) -> float:
        """How long a request arriving now would wait: the work queued, less what the running one has done."""
        with self._changed:
            return self._work_ahead(len(self._line))

    def _work_ahead(self, position: int) -> float:
        now = self.clock()
        return sum(max(0.0, r.work_s - (now - r.started)) if r.started is not None else r.work_s
                   for r in self._line[:position])

    def record(self, video_seconds: float, seconds_taken: float) -> None:
        """Fold one finished request into the moving average of seconds of work per second of video."""
        rate = seconds_taken / max(video_seconds, MIN_BILLED_SECONDS)
        with self._changed:
            self.seconds_per_video_second += self.smoothing * (rate - self.seconds_per_video_second)

    def check(self) -> None:
        """Raise `Busy` if a request arriving now would wait past the limit (a link, before it is downloaded)."""
        with self._changed:
            self._refuse_if_too_long()

    def _refuse_if_too_long(self) -> None:
        wait_s = self._work_ahead(len(self._line))
        if wait_s > self.max_wait_s:
            others = "1 other video" if len(self._line) == 1 else f"{len(self._line)} other videos"
            raise Busy(f"The server is busy: your video would wait about {describe_seconds(wait_s)} behind "
                       f"{others}, longer than the {describe_seconds(self.max_wait_s)} a request may take. "
                       "Try again in a few minutes.")

    def _admit(self, video_seconds: float) -> _Request:
        with self._changed:
            self._refuse_if_too_long()
            request = _Request(self.expected_work_s(video_seconds))
            self._line.append(request)
            return request

    def _wait_for_turn(self, request: _Request, on_wait: Callable[[int, float], None]) -> None:
        with self._changed:
            while (position := self._line.index(request)) > 0:
                on_wait(position, self._work_ahead(position))
                self._changed.wait(REPORT_EVERY_S)
            request.started = self.clock()

    @contextmanager
    def turn(self, video_seconds: float,
             on_wait: Callable[[int, float], None] = lambda ahead, wait_s: None) -> Iterator[None]:
        """Join the line (or raise `Busy` at once), wait for the turn, and run the body as the only request.

        While waiting, `on_wait(videos_ahead, wait_s)` is called about every second. A body that
        finishes without an error updates the rate with how long it took.
        """
        request = self._admit(video_seconds)
        try:
            self._wait_for_turn(request, on_wait)
            yield
            self.record(video_seconds, self.clock() - request.started)
        finally:
            with self._changed:
                self._line.remove(request)
                self._changed.notify_all()
