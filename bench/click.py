"""Time from clicking Recognize to both annotated videos and the table on screen, in headless Chromium.

    python -m bench.click              # needs the dev requirements and Debian's /usr/bin/chromium

It serves `app.py` on a free local port, uploads a 10-s clip (three g21-g25 clips
joined, then cut), and clicks Recognize three times, each in a fresh page.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench import inputs
from bench.run import WEIGHTS
from tests.app_server import serving_app

CHROMIUM = "/usr/bin/chromium"
RESULT_TIMEOUT_MS = 120_000


def click_to_result(url: str, clip: Path, runs: int = 3) -> list[float]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        seconds = []
        for _ in range(runs):
            page = browser.new_page()
            page.goto(url)
            page.locator("#video-file input[type=file]").set_input_files(clip)
            page.wait_for_selector("#preview video")
            started = time.perf_counter()
            page.click("#recognize")
            for selector in ("#lrcn-video video", "#convlstm-video video", "#comparison .virtual-row"):
                page.wait_for_selector(selector, timeout=RESULT_TIMEOUT_MS)
            seconds.append(time.perf_counter() - started)
            page.close()
        browser.close()
    return seconds


def main() -> int:
    if not inputs.SHARED_UCF14.is_dir():
        print(f"needs the UCF clips in {inputs.SHARED_UCF14}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="action-lens-click-") as temporary:
        folder = Path(temporary)
        joined = inputs.assemble(inputs.validation_clips()[:3], 10, folder / "joined.mp4")
        clip = inputs.trimmed(joined, 10, folder / "ten_seconds.mp4")
        with serving_app(folder, ACTION_LENS_WEIGHTS=str(WEIGHTS)) as (url, _):
            seconds = click_to_result(url, clip)
    print(f"click to result for a 10-s clip: median {statistics.median(seconds):.2f} s "
          f"({', '.join(f'{s:.2f}' for s in seconds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
