"""The admission rule: the work queued ahead, the measured rate, and the time limit decide who may wait."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from recognition.admission import MIN_BILLED_SECONDS, Busy, WorkQueue, describe_wait


class Clock:
    """A clock the test moves by hand, so waits and rates are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextlib.contextmanager
def in_line(line: WorkQueue, *video_seconds: float):
    """Requests that join `line` in this order, each from its own thread, and hold their turns until the block ends.

    Yields an event per request, set once its turn has started.
    """
    release = threading.Event()
    started = [threading.Event() for _ in video_seconds]
    errors: list[BaseException] = []

    def run(seconds: float, admitted: threading.Event, turn_started: threading.Event) -> None:
        try:
            with line.turn(seconds, lambda ahead, wait_s: admitted.set()):
                admitted.set()
                turn_started.set()
                release.wait(10)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            errors.append(error)
            admitted.set()

    threads = []
    for seconds, turn_started in zip(video_seconds, started):
        admitted = threading.Event()
        threads.append(threading.Thread(target=run, args=(seconds, admitted, turn_started), daemon=True))
        threads[-1].start()
        assert admitted.wait(10)
    try:
        yield started
    finally:
        release.set()
        for thread in threads:
            thread.join(10)
    if errors:
        raise errors[0]


def test_expected_work_is_the_video_seconds_at_the_rate_with_a_floor_for_short_clips():
    line = WorkQueue(max_wait_s=300, seconds_per_video_second=0.5)
    assert line.expected_work_s(60) == 30
    assert line.expected_work_s(0.04) == line.expected_work_s(MIN_BILLED_SECONDS) == MIN_BILLED_SECONDS * 0.5


def test_the_wait_is_the_queued_work_less_what_the_running_request_has_done():
    clock = Clock()
    line = WorkQueue(max_wait_s=300, seconds_per_video_second=0.5, clock=clock)
    assert line.wait_s() == 0
    with in_line(line, 60, 20) as started:
        assert started[0].is_set() and not started[1].is_set()
        assert line.wait_s() == 30 + 10
        clock.now += 12
        assert line.wait_s() == 18 + 10
        clock.now += 100  # the running request is late: it counts as nearly done, not as negative work
        assert line.wait_s() == 10


def test_a_request_that_would_wait_past_the_limit_is_refused_at_once_with_the_wait():
    line = WorkQueue(max_wait_s=60, seconds_per_video_second=0.5, clock=Clock())
    with in_line(line, 100, 30):
        started = time.monotonic()
        with pytest.raises(Busy) as busy, line.turn(5):
            pytest.fail("a refused request must not run")
        assert time.monotonic() - started < 1
    message = str(busy.value)
    assert message == ("The server is busy: your video would wait about 1 min 5 s behind 2 other videos, longer "
                       "than the 1 min a request may take. Try again in a few minutes.")
    assert line.wait_s() == 0, "a refused request leaves nothing in the line"


def test_a_link_can_be_refused_before_it_is_downloaded():
    line = WorkQueue(max_wait_s=60, seconds_per_video_second=0.5, clock=Clock())
    line.check()
    with in_line(line, 200):
        with pytest.raises(Busy, match="would wait about 1 min 40 s behind 1 other video, longer than the 1 min"):
            line.check()


def test_twenty_short_clips_are_all_admitted():
    line = WorkQueue(max_wait_s=300, clock=Clock())
    with in_line(line, *[6.0] * 20):
        assert line.wait_s() == pytest.approx(20 * line.expected_work_s(6.0))
        assert line.wait_s() < 300


def test_ten_minute_videos_are_turned_away_once_the_queued_work_passes_the_limit():
    line = WorkQueue(max_wait_s=300, seconds_per_video_second=0.3, clock=Clock())
    with in_line(line, 600, 600):  # 180 s of work each: the third would wait 360 s
        with pytest.raises(Busy, match="would wait about 6 min behind 2 other videos"):
            with line.turn(600):
                pass


def test_the_rate_follows_the_requests_that_finish():
    clock = Clock()
    line = WorkQueue(max_wait_s=300, seconds_per_video_second=0.5, smoothing=0.5, clock=clock)
    with line.turn(10):
        clock.now += 10  # one second of work per second of video
    assert line.seconds_per_video_second == pytest.approx(0.75)
    with line.turn(10):
        clock.now += 1
    assert line.seconds_per_video_second == pytest.approx(0.425)


def test_a_failed_request_leaves_the_line_and_the_rate_alone():
    clock = Clock()
    line = WorkQueue(max_wait_s=300, seconds_per_video_second=0.5, clock=clock)
    with pytest.raises(RuntimeError), line.turn(10):
        clock.now += 50
        raise RuntimeError("the decoder gave up")
    assert line.seconds_per_video_second == 0.5 and line.wait_s() == 0


def test_requests_take_turns_first_come_first_served_and_hear_their_place():
    line = WorkQueue(max_wait_s=300, seconds_per_video_second=0.5, clock=Clock())
    order: list[str] = []
    reports: list[tuple[int, float]] = []
    release_first = threading.Event()

    def first() -> None:
        with line.turn(10):
            order.append("first")
            release_first.wait(10)

    def second() -> None:
        with line.turn(10, lambda ahead, wait_s: reports.append((ahead, wait_s))):
            order.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    while not order:
        time.sleep(0.01)
    threads[1].start()
    while not reports:
        time.sleep(0.01)
    assert order == ["first"] and reports[0] == (1, 5.0)
    release_first.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first", "second"] and line.wait_s() == 0


@pytest.mark.parametrize("ahead, wait_s, text", [
    (1, 4.2, "Waiting for your turn: 1 video ahead, about 4 s"),
    (3, 125, "Waiting for your turn: 3 videos ahead, about 2 min 5 s"),
    (2, 0.1, "Waiting for your turn: 2 videos ahead, about 1 s"),
])
def test_the_wait_reads_as_a_sentence(ahead: int, wait_s: float, text: str):
    assert describe_wait(ahead, wait_s) == text
