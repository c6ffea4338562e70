"""The size and length caps, and their messages."""

from pathlib import Path

import pytest

from recognition.limits import Limits, describe_seconds
from recognition.video import VideoError
from tests.helpers import write_clip


def test_caps_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ACTION_LENS_MAX_SECONDS", "90")
    monkeypatch.setenv("ACTION_LENS_MAX_MB", "5")
    monkeypatch.setenv("ACTION_LENS_MAX_REQUEST_SECONDS", "45")
    assert Limits.from_env() == Limits(max_seconds=90, max_bytes=5_000_000, max_request_seconds=45)


def test_defaults_are_ten_minutes_200_mb_and_five_minutes_per_request(monkeypatch: pytest.MonkeyPatch):
    for name in ("ACTION_LENS_MAX_SECONDS", "ACTION_LENS_MAX_MB", "ACTION_LENS_MAX_REQUEST_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    assert Limits.from_env() == Limits(max_seconds=600, max_bytes=200_000_000, max_request_seconds=300)


def test_a_deadline_lets_work_on_until_its_time_is_up():
    Limits(max_request_seconds=60).deadline().check()
    with pytest.raises(VideoError, match="took longer than 0 s to process, the limit per request"):
        Limits(max_request_seconds=0).deadline().check()


@pytest.mark.parametrize("seconds, text", [(45, "45 s"), (125.4, "2 min 5 s"), (600, "10 min")])
def test_durations_read_naturally(seconds: float, text: str):
    assert describe_seconds(seconds) == text


def test_problems_name_the_value_and_the_cap():
    limits = Limits(max_seconds=60, max_bytes=1_000_000)
    assert limits.duration_problem(60) is None and limits.duration_problem(None) is None
    assert limits.duration_problem(90) == ("it is 1 min 30 s long and this demo takes videos up to 1 min: "
                                           "trim it or pick a shorter clip")
    assert limits.size_problem(1_000_000) is None
    assert limits.size_problem(2_500_000) == "it is 2 MB and this demo takes files up to 1 MB"


def test_local_file_over_a_cap_is_a_video_error(tmp_path: Path):
    clip = write_clip(tmp_path / "thirty_seconds.avi", frames=300, fps=10.0)
    Limits(max_seconds=30).check_file(clip)
    with pytest.raises(VideoError, match=r"^thirty_seconds\.avi: it is 30 s long .* up to 20 s"):
        Limits(max_seconds=20).check_file(clip)
    with pytest.raises(VideoError, match=r"^thirty_seconds\.avi: it is \d+ kB and this demo takes files up to 1 kB"):
        Limits(max_bytes=1000).check_file(clip)
