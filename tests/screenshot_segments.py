"""Regenerate the README's screenshot of a multi-action result (not a test: it writes a tracked file).

    python -m tests.screenshot_segments                 # writes docs/screenshot_segments.png
    python -m tests.screenshot_segments --width 390     # how a phone shows it

Starts `python app.py` with the shipped models, joins g21-g25 clips of several
actions from ../shared into one video, recognizes it in headless Chromium and
takes a full-page screenshot.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.app_server import serving_app
from tests.helpers import ROOT, UCF14
from tests.test_app import CHROMIUM, RESULT_TIMEOUT_MS
from tests.test_segments import join_long_video


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.screenshot_segments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot_segments.png")
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args(argv)
    if not UCF14.is_dir():
        print(f"needs the real UCF clips in {UCF14}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="action-lens-screenshot-") as temporary:
        folder = Path(temporary)
        video = folder / "workout.mp4"
        join_long_video(video)
        with serving_app(folder) as (url, _), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": args.width, "height": 1600})
            page.goto(url, wait_until="domcontentloaded")
            page.locator("#video-file input[type=file]").set_input_files(video)
            page.wait_for_selector("#preview video")
            page.click("#recognize")
            page.wait_for_selector("#segments .virtual-row", timeout=RESULT_TIMEOUT_MS)
            page.wait_for_selector("#recognize:not([disabled])", timeout=RESULT_TIMEOUT_MS)
            page.evaluate("document.querySelectorAll('video').forEach(video => { video.currentTime = 15; })")
            page.wait_for_timeout(1500)
            args.out.parent.mkdir(exist_ok=True)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
