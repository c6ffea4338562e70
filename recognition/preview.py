"""Browser-playable copies of any video OpenCV's ffmpeg can decode.

Browsers play H.264 in mp4, not the Xvid AVI or MKV files people upload, and
Gradio only converts them when a system ffmpeg is installed. The ffmpeg binary
that imageio-ffmpeg ships does the job without one. The source is only read.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import imageio_ffmpeg

from recognition.video import VideoError

TIMEOUT_S = 300.0
MAX_PREVIEW_SIZE = (854, 480)
"""Width and height of the copy shown as the input, at most."""


def browser_playable_copy(source: str | os.PathLike, destination: str | os.PathLike,
                          max_size: tuple[int, int] = MAX_PREVIEW_SIZE, timeout_s: float = TIMEOUT_S) -> Path:
    """Write `source` as H.264/yuv420p mp4 with `+faststart`, within `max_size` (width, height); no audio.

    Raises `VideoError` if ffmpeg can't decode `source` or takes longer than `timeout_s`.
    """
    source, destination = Path(source), Path(destination)
    if source.resolve() == destination.resolve():
        raise ValueError("the preview must not overwrite its source")
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-i", str(source), "-map", "0:v:0",
        "-vf", f"scale='min({max_size[0]},iw)':'min({max_size[1]},ih)':force_original_aspect_ratio=decrease"
               ":force_divisible_by=2",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", "-an", str(destination),
    ]
    try:
        subprocess.run(command, capture_output=True, check=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as error:
        destination.unlink(missing_ok=True)
        raise VideoError(f"{source.name}: converting it for the browser took over {timeout_s:.0f} s") from error
    except subprocess.CalledProcessError as error:
        destination.unlink(missing_ok=True)
        raise VideoError(f"{source.name}: not a video ffmpeg can decode") from error
    return destination
