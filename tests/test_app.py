"""The app end to end: `python app.py` in a subprocess, driven by headless Chromium and gradio_client.

Real clips from ../shared (groups g21-g25, held out by the split runs), the real trained
models, real yt-dlp against a web server on 127.0.0.1, and Debian's Chromium
checking that the annotated videos it is given actually play.
"""

from __future__ import annotations

import datetime
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from recognition.loader import WAITING_MESSAGE
from tests.app_server import serving_app, serving_folder
from tests.helpers import (CONFIDENT_ACTION as ACTION, ROOT, UCF14, WEIGHTS, needs_ucf14, needs_weights,
                           validation_clip, write_clip)
from tests.test_segments import join_long_video

APP_WEIGHTS = Path(os.environ.get("ACTION_LENS_WEIGHTS", WEIGHTS))
CHROMIUM = "/usr/bin/chromium"
RESULT_TIMEOUT_MS = 120_000
SCREENSHOT = os.environ.get("ACTION_LENS_SCREENSHOT")
"""Where to save the page after a recognition (docs/screenshot.png to refresh the README's); else a temporary file."""
SHIPPED_EXAMPLES = sorted((ROOT / "examples").glob("*.mp4"))
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

PLAYBACK = """async (selector) => {
    const video = document.querySelector(selector);
    video.muted = true;
    try { await video.play(); } catch (error) { return {error: String(error)}; }
    await new Promise(resolve => setTimeout(resolve, 700));
    video.pause();
    return {duration: video.duration, played: video.currentTime, width: video.videoWidth,
            error: video.error && video.error.code};
}"""

TABLE_ROWS = """(table) => [...document.querySelectorAll(`${table} .virtual-row`)].map(
    row => [...row.querySelectorAll('[role=gridcell]')].map(cell => cell.innerText.trim()))"""

TOO_WIDE = """(width) => [...document.querySelectorAll(
        '#verdict, #verdict *, #lrcn-video, #lrcn-video *, #convlstm-video, #convlstm-video *, #lrcn-plot, '
        + '#lrcn-plot *, #convlstm-plot, #convlstm-plot *, #how-to-read, #comparison, #comparison *, '
        + '#segments, #segments *')]
    .filter(element => element.checkVisibility({visibilityProperty: true}) && element.getBoundingClientRect().width > 0
                       && element.getBoundingClientRect().right > width + 1)
    .map(element => `${element.tagName}.${element.className}: ${element.getBoundingClientRect().right}`)"""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python app.py` on a free port, with the real models and the shipped examples."""
    if not UCF14.is_dir():
        pytest.skip(f"needs the real UCF clips in {UCF14} (not in a fresh clone)")
    if not all((APP_WEIGHTS / f"{name}.keras").exists() for name in ("lrcn", "convlstm")):
        pytest.skip(f"needs trained models in {APP_WEIGHTS} (set ACTION_LENS_WEIGHTS)")
    folder = tmp_path_factory.mktemp("app")
    settings = {"ACTION_LENS_WEIGHTS": str(APP_WEIGHTS), "ACTION_LENS_ALLOW_LOCAL_URLS": "127.0.0.1"}
    with serving_app(folder, **settings) as (url, _):
        yield url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A web server on 127.0.0.1 with the real clip, for the link path."""
    if not UCF14.is_dir():
        pytest.skip(f"needs the real UCF clips in {UCF14} (not in a fresh clone)")
    root = tmp_path_factory.mktemp("site")
    shutil.copy(validation_clip(ACTION), root / "clip.mp4")
    with serving_folder(root) as url:
        yield url


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Chromium at {CHROMIUM}")
    with sync_playwright() as running:
        yield running


def _chromium(playwright: Playwright, *args: str) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", *args])
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    yield from _chromium(playwright)


@pytest.fixture(scope="module")
def browser_with_camera(playwright: Playwright) -> Iterator[Browser]:
    """Chromium with its fake camera (a moving test pattern) and camera access granted without asking."""
    yield from _chromium(playwright, *FAKE_CAMERA)


@pytest.fixture
def page(browser: Browser, app_url: str) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1400, "height": 1700})
    page.goto(app_url, wait_until="domcontentloaded")
    page.wait_for_selector("#recognize")
    yield page
    page.close()


def _xvid_avi(source: Path, destination: Path) -> Path:
    """The clip re-encoded as Xvid AVI, the format UCF101 itself ships in."""
    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS)
    size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(str(destination), cv2.VideoWriter_fourcc(*"XVID"), fps, size)
    while (frame := capture.read()[1]) is not None:
        writer.write(frame)
    writer.release()
    capture.release()
    return destination


def _recognize(page: Page) -> list[list[str]]:
    """Click Recognize, wait for both annotated videos, and return the comparison table's rows."""
    page.click("#recognize")
    page.wait_for_selector("#lrcn-video video", timeout=RESULT_TIMEOUT_MS)
    page.wait_for_selector("#convlstm-video video", timeout=RESULT_TIMEOUT_MS)
    page.wait_for_selector("#comparison .virtual-row", timeout=RESULT_TIMEOUT_MS)
    page.wait_for_selector("#recognize:not([disabled])", timeout=RESULT_TIMEOUT_MS)
    return page.evaluate(TABLE_ROWS, "#comparison")


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[float, float, str]]]:
    """Clips of g21-g25 of several actions joined into one video."""
    video = tmp_path_factory.mktemp("long") / "workout.mp4"
    return video, join_long_video(video)


def _assert_plays(page: Page, selector: str) -> None:
    playback = page.evaluate(PLAYBACK, selector)
    assert playback["error"] is None, f"{selector}: {playback}"
    assert playback["duration"] > 0 and playback["played"] > 0 and playback["width"] > 0, f"{selector}: {playback}"


def _assert_names_the_action(rows: list[list[str]]) -> None:
    assert [row[0] for row in rows] == ["LRCN", "ConvLSTM"]
    assert [row[1] for row in rows] == [ACTION, ACTION], rows
    assert all(row[-1] == "yes" for row in rows)


def test_request_folders_are_removed_after_an_hour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import app

    monkeypatch.setattr(app, "WORK_DIR", tmp_path)
    stale, recent = app.request_folder(), app.request_folder()
    an_hour_ago = time.time() - app.KEEP_OUTPUTS_S - 1
    os.utime(stale, (an_hour_ago, an_hour_ago))
    current = app.request_folder()
    assert not stale.exists() and recent.exists() and current.exists()


@pytest.mark.slow
def test_uploaded_clip_is_recognized_and_both_annotated_videos_play(page: Page, tmp_path: Path):
    page.locator("#video-file input[type=file]").set_input_files(validation_clip(ACTION))
    page.wait_for_selector("#preview video")
    rows = _recognize(page)
    _assert_names_the_action(rows)
    _assert_plays(page, "#lrcn-video video")
    _assert_plays(page, "#convlstm-video video")
    assert page.locator("#verdict").inner_text().startswith(f"Both models see {ACTION}")
    plot = page.locator("#lrcn-plot img, #lrcn-plot canvas")
    plot.first.wait_for()
    assert plot.count() == 1
    screenshot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "screenshot.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 10_000


@pytest.mark.slow
def test_xvid_avi_upload_is_previewed_and_recognized(page: Page, tmp_path: Path):
    clip = _xvid_avi(validation_clip(ACTION), tmp_path / "pullups.avi")
    page.locator("#video-file input[type=file]").set_input_files(clip)
    page.wait_for_selector("#preview video")
    _assert_plays(page, "#preview video")
    _assert_names_the_action(_recognize(page))
    _assert_plays(page, "#lrcn-video video")
    _assert_plays(page, "#convlstm-video video")


@pytest.mark.slow
def test_link_is_downloaded_and_recognized(page: Page, site: str):
    page.get_by_label("...or a link to a video").fill(f"{site}/clip.mp4")
    _assert_names_the_action(_recognize(page))
    _assert_plays(page, "#convlstm-video video")


@pytest.mark.slow
def test_mistakes_get_a_sentence_not_a_traceback(page: Page, site: str):
    page.click("#recognize")
    page.locator("#verdict").get_by_text(
        "Upload a video file, paste a link to one or record one with your webcam first.").wait_for()
    page.get_by_label("...or a link to a video").fill(f"{site}/missing.mp4")
    page.click("#recognize")
    page.locator("#verdict").get_by_text("Nothing was found at that link (HTTP 404): check the address.").wait_for()
    assert "Traceback" not in page.content()


@pytest.mark.slow
def test_shipped_examples_are_offered_by_label_and_the_first_is_recognized(page: Page):
    examples = page.locator("#examples .gallery-item")
    examples.first.wait_for(timeout=10_000)
    assert len(SHIPPED_EXAMPLES) >= 3
    assert examples.all_inner_texts() == [clip.stem for clip in SHIPPED_EXAMPLES]
    examples.first.click()
    page.wait_for_selector("#preview video")
    rows = _recognize(page)
    assert [row[1] for row in rows] == [SHIPPED_EXAMPLES[0].stem] * 2, rows
    _assert_plays(page, "#lrcn-video video")
    _assert_plays(page, "#convlstm-video video")


@pytest.mark.slow
def test_a_long_video_is_told_in_segments(page: Page, long_video):
    video, actions = long_video
    page.locator("#video-file input[type=file]").set_input_files(video)
    page.wait_for_selector("#preview video")
    _recognize(page)
    rows = page.evaluate(TABLE_ROWS, "#segments")
    labels = [label for _, _, label in actions]
    for model in ("LRCN", "ConvLSTM"):
        told = [row[3] for row in rows if row[0] == model]
        assert len(actions) - 1 <= len(told) <= 2 * len(actions), rows
        assert sum(label in told for label in labels) >= len(labels) - 1, rows
    verdict = page.locator("#verdict").inner_text()
    assert "0:00-" in verdict and sum(label in verdict for label in labels) >= len(labels) - 1, verdict
    for plot in ("#lrcn-plot img", "#convlstm-plot img"):
        strip = page.locator(plot)
        strip.wait_for()
        assert strip.evaluate("image => image.naturalWidth") > 300


@pytest.mark.slow
def test_an_error_stays_on_the_page(page: Page, odd_files: dict[str, Path], tmp_path: Path):
    upload = shutil.copy(odd_files["text"], tmp_path / "holiday.mp4")
    page.locator("#video-file input[type=file]").set_input_files(upload)
    message = "holiday.mp4: not a video that can be read"
    page.locator("#verdict").get_by_text(message).wait_for(timeout=30_000)
    page.wait_for_timeout(15_000)
    assert message in page.locator("#verdict").inner_text()
    page.get_by_label("...or a link to a video").fill("https://example.com/clip.mp4")
    page.click("#recognize")
    page.locator("#verdict").get_by_text("Give one video at a time").wait_for(timeout=30_000)
    page.wait_for_timeout(15_000)
    assert "Give one video at a time" in page.locator("#verdict").inner_text()
    assert message not in page.locator("#verdict").inner_text(), "the next request replaces the message"
    page.wait_for_selector("#recognize:not([disabled])")
    for output in ("#lrcn-video", "#convlstm-video", "#lrcn-plot", "#convlstm-plot", "#comparison", "#segments"):
        assert page.locator(output).get_by_text("Error").count() == 0, f"{output} shows an error without a sentence"


@pytest.mark.slow
def test_at_phone_width_nothing_needs_sideways_scrolling(browser: Browser, app_url: str, long_video):
    phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    try:
        phone.goto(app_url, wait_until="domcontentloaded")
        phone.wait_for_selector("#recognize")
        phone.locator("#video-file input[type=file]").set_input_files(long_video[0])
        _recognize(phone)
        phone.wait_for_selector("#segments .virtual-row")
        assert phone.evaluate(TOO_WIDE, 390) == []
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        phone.close()



@pytest.mark.slow
def test_a_webcam_recording_is_recognized(browser_with_camera: Browser, app_url: str):
    page = browser_with_camera.new_page(viewport={"width": 1400, "height": 1700})
    page.goto(app_url, wait_until="domcontentloaded")
    webcam = page.locator("#webcam")
    webcam.get_by_text("Click to Access Webcam").click()
    webcam.get_by_role("button", name="start recording").click()
    page.wait_for_timeout(3000)
    webcam.locator(".capture-button").click()  # the same button, now "Stop"
    page.wait_for_selector("#webcam video[src]", timeout=30_000)
    rows = _recognize(page)
    assert [row[0] for row in rows] == ["LRCN", "ConvLSTM"] and all(row[1] for row in rows), rows
    _assert_plays(page, "#lrcn-video video")
    _assert_plays(page, "#convlstm-video video")
    page.close()


@pytest.mark.slow
def test_about_section_reads_the_model_metadata(page: Page):
    page.get_by_text("About the models").click()
    about = page.get_by_text("Both models label a video with one of").inner_text()
    assert "14 actions" in about and "HandstandWalking" in about


@pytest.mark.slow
@needs_ucf14
@needs_weights
def test_a_request_before_the_models_are_ready_waits_for_them(tmp_path: Path):
    """The shipped models are ready a fraction of a second after the page; a model without its LiteRT
    copies (as after retraining) is converted first, which keeps the request waiting long enough to watch."""
    weights = tmp_path / "weights"
    weights.mkdir()
    for path in APP_WEIGHTS.iterdir():
        if not (path.name.startswith("convlstm-") and path.suffix in (".tflite", ".stem-weights")):
            (weights / path.name).symlink_to(path)
    with serving_app(tmp_path, ACTION_LENS_WEIGHTS=str(weights), ACTION_LENS_CACHE=str(tmp_path / "cache")) as (url, _):
        client = Client(url, verbose=False, download_files=tmp_path / "client", analytics_enabled=False)
        job = client.submit(video_file=handle_file(validation_clip(ACTION)), video_url="", api_name="/recognize")
        progress: set[str] = set()
        while not job.done():
            progress |= {unit.desc for unit in job.status().progress_data or ()}
            time.sleep(0.02)
        table = job.result(timeout=60)[3]
    waited = _seconds_between((tmp_path / "app.log").read_text(), "a request waits for the models", "models ready")
    if waited is None or waited < 0.5:
        pytest.skip(f"the models were ready before the request, or within {waited} s of it: too soon to watch")
    assert WAITING_MESSAGE in progress, progress
    assert [row[1] for row in table["data"]] == [ACTION, ACTION]


def _seconds_between(log: str, first: str, then: str) -> float | None:
    """Seconds from the log line with `first` to the next one with `then` (None if either is missing)."""
    stamps = {}
    for line in log.splitlines():
        for words in (first, then):
            if words in line and words not in stamps and (words == first or first in stamps):
                stamps[words] = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return (stamps[then] - stamps[first]).total_seconds() if len(stamps) == 2 else None


@pytest.mark.slow
def test_models_that_fail_to_load_get_a_sentence_and_the_page_still_comes_up(tmp_path: Path):
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    with serving_app(tmp_path, ACTION_LENS_WEIGHTS=str(no_weights)) as (url, _):
        client = Client(url, verbose=False, download_files=tmp_path / "client", analytics_enabled=False)
        with pytest.raises(AppError, match="The models could not be loaded from the server"):
            client.predict(video_file=handle_file(write_clip(tmp_path / "square.avi")), video_url="",
                           api_name="/recognize")


@pytest.fixture(scope="module")
def client(app_url: str, tmp_path_factory: pytest.TempPathFactory) -> Client:
    return Client(app_url, verbose=False, download_files=tmp_path_factory.mktemp("client"), analytics_enabled=False)


@pytest.mark.slow
def test_api_recognizes_a_file_and_a_link(client: Client, site: str):
    by_file = client.predict(video_file=handle_file(validation_clip(ACTION)), video_url="", api_name="/recognize")
    by_link = client.predict(video_file=None, video_url=f"{site}/clip.mp4", api_name="/recognize")
    for lrcn_video, convlstm_video, verdict, table, lrcn_plot, convlstm_plot, segments in (by_file, by_link):
        assert Path(lrcn_video).stat().st_size > 0 and Path(convlstm_video).stat().st_size > 0
        assert verdict.startswith(f"Both models see **{ACTION}**")
        _assert_names_the_action(table["data"])
        assert lrcn_plot["type"] == convlstm_plot["type"] == "matplotlib"
        assert [row[0] for row in segments["data"]] == ["LRCN", "ConvLSTM"]
        assert [row[3] for row in segments["data"]] == [ACTION, ACTION]


@pytest.mark.slow
def test_api_refuses_bad_links_with_the_reason(client: Client):
    with pytest.raises(AppError, match="That is not a web link"):
        client.predict(video_file=None, video_url="file:///etc/passwd", api_name="/recognize")


@pytest.mark.parametrize("name, message", [
    ("empty", "the file is empty"),
    ("text", "not a video that can be read"),
    ("html", "not a video that can be read"),
    ("truncated", "not a video that can be read"),
    ("audio_m4a", "is an audio file, not a video"),
    ("image_png", "is a still image, not a video"),
])
@pytest.mark.slow
def test_api_answers_broken_uploads_with_one_sentence(client: Client, odd_files: dict[str, Path], name: str,
                                                      message: str, tmp_path: Path):
    """Each file is uploaded with a video suffix, as a renamed file would be; the app looks at the content."""
    upload = shutil.copy(odd_files[name], tmp_path / f"{odd_files[name].stem}.mp4")
    started = time.monotonic()
    with pytest.raises(AppError) as refused:
        client.predict(video_file=handle_file(upload), video_url="", api_name="/recognize")
    assert message in str(refused.value) and "Traceback" not in str(refused.value)
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_api_refuses_files_without_a_video_suffix(client: Client, odd_files: dict[str, Path]):
    with pytest.raises(AppError, match="Invalid file type. Please upload a file that is one of these formats"):
        client.predict(video_file=handle_file(odd_files["image_png"]), video_url="", api_name="/recognize")


@pytest.mark.slow
@pytest.mark.parametrize("host", ["[::1]", "127.0.0.2", "169.254.169.254", "10.0.0.1"])
def test_api_refuses_links_to_local_addresses(client: Client, host: str):
    with pytest.raises(AppError, match="That link points at a (loopback|link-local|private network) address"):
        client.predict(video_file=None, video_url=f"http://{host}:8080/clip.mp4", api_name="/recognize")
