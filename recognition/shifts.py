"""Copies of a clip changed the way footage from the web differs from UCF101's.

`python -m recognition evaluate --shift NAME` scores held-out clips through one of
these, so progress on footage that is not UCF's can be measured without web data.
Each copy is made by the ffmpeg that imageio-ffmpeg ships, in a folder the caller
owns; the clip itself is only read.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

SHIFTS: dict[str, tuple[str, str]] = {
    "letterbox": ("black bars above and below; the picture fills 3/4 of the height",
                  "pad=iw:ih+4*trunc(ih/12):0:2*trunc(ih/12)"),
    "portrait": ("the middle 9:16 of the picture, as a phone held upright films it",
                 "crop=2*trunc(ih*9/32):ih"),
    "zoom": ("the middle 70 % of the picture, as a closer shot",
             "crop=2*trunc(iw*0.35):2*trunc(ih*0.35)"),
    "rotate": ("turned by 6 degrees, as a hand-held camera",
               "rotate=6*PI/180"),
    "blur": ("out of focus (Gaussian blur, sigma 2 px)",
             "gblur=sigma=2"),
    "compress": ("half the resolution and heavy compression, as a re-uploaded clip",
                 "scale=2*trunc(iw/4):2*trunc(ih/4)"),
    "overlay": ("a caption bar and a channel logo over the picture",
                "drawbox=y=ih*0.80:w=iw:h=ih*0.14:color=black@0.6:t=fill,"
                "drawtext=fontfile='{font}':text='SUBSCRIBE for more workouts':fontcolor=white:"
                "fontsize=h/16:x=(w-text_w)/2:y=h*0.83,"
                "drawbox=x=iw*0.82:y=ih*0.04:w=iw*0.14:h=ih*0.10:color=red@0.8:t=fill"),
    "mirror": ("flipped left to right, as a phone's front camera films", "hflip"),
    "phone": ("several at once, as a phone video shared online: the middle 9:16, turned by 4 degrees, "
              "a caption bar, heavy compression",
              "crop=2*trunc(ih*9/32):ih,rotate=4*PI/180,"
              "drawbox=y=ih*0.80:w=iw:h=ih*0.10:color=black@0.6:t=fill,"
              "drawtext=fontfile='{font}':text='Day 12 of 30':fontcolor=white:fontsize=h/20:"
              "x=(w-text_w)/2:y=h*0.82"),
    "fast": ("played 1.5 times as fast", "setpts=PTS/1.5"),
    "slow": ("played at 2/3 speed", "setpts=PTS*1.5"),
}
"""name: (what it does, in words; ffmpeg's filter for it, where {font} stands for a font file)."""

_QUALITY = {"compress": "40", "phone": "36"}
"""x264 CRF per shift (23 elsewhere)."""


def shifted_copy(video: Path, shift: str, folder: Path) -> Path:
    """A copy of `video` changed by `shift` (a key of `SHIFTS`), written into `folder` as H.264 mp4."""
    if shift not in SHIFTS:
        raise ValueError(f"unknown shift {shift!r}: choose from {', '.join(SHIFTS)}")
    copy = Path(folder) / f"{Path(video).stem}_{shift}.mp4"
    import matplotlib  # only for its font file, which is always installed with it

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
    change = SHIFTS[shift][1].replace("{font}", str(font))
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-i", str(video),
               "-vf", f"{change},scale=trunc(iw/2)*2:trunc(ih/2)*2", "-an", "-c:v", "libx264",
               "-preset", "veryfast", "-crf", _QUALITY.get(shift, "23"), "-pix_fmt", "yuv420p", str(copy)]
    subprocess.run(command, check=True, capture_output=True)
    return copy
