"""Time from `python app.py` to the page being served, and to the models being ready.

    python -m bench.page              # three fresh starts, no ACTION_LENS_* settings

The page comes first; the models load and warm up in the background and the
app logs "models ready" when a request no longer has to wait for them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.app_server import free_port

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 300


def one_start(log: Path) -> tuple[float, float]:
    """Seconds to the first HTTP 200 for the page, and to the "models ready" log line."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ACTION_LENS_")}
    env.update(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port))
    started = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
    page_s = ready_s = None
    try:
        while time.perf_counter() - started < TIMEOUT_S and ready_s is None:
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited:\n{log.read_text()[-2000:]}")
            if page_s is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}", timeout=1) as response:
                        if response.status == 200:
                            page_s = time.perf_counter() - started
                except OSError:
                    pass
            if "models ready" in log.read_text():
                ready_s = time.perf_counter() - started
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=30)
    if page_s is None or ready_s is None:
        raise RuntimeError(f"no page or no models within {TIMEOUT_S} s:\n{log.read_text()[-2000:]}")
    return page_s, ready_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.page", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="action-lens-page-") as folder:
        runs = [one_start(Path(folder) / f"app-{i}.log") for i in range(args.runs)]
    pages, readies = zip(*runs)
    print(f"page served after {statistics.median(pages):.1f} s (median of {args.runs}: "
          f"{', '.join(f'{s:.1f}' for s in pages)}); models ready after {statistics.median(readies):.1f} s "
          f"({', '.join(f'{s:.1f}' for s in readies)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
