"""Files people really send, made with the ffmpeg that imageio-ffmpeg ships: other codecs, phone quirks, and junk.

`codec_copies` re-encodes one clip into the formats phones, cameras, editors and
sites write. `more_odd_inputs` adds what else arrives at a public page, named by
what it is; `REFUSALS` says which sentence each broken one must get, and every
other one must decode.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

from tests.helpers import ffmpeg, pattern_clip

_AV1 = ["-c:v", "libaom-av1", "-cpu-used", "8", "-crf", "45", "-b:v", "0", "-row-mt", "1"]
_HEVC = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"]

CODECS: dict[str, tuple[str, list[str]]] = {
    "av1_mp4": ("av1.mp4", _AV1),
    "av1_webm": ("av1.webm", _AV1),
    "hevc_10bit": ("hevc_10bit.mp4", [*_HEVC, "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1"]),
    "hevc_portrait_rotated": ("hevc_portrait.mp4", _HEVC),  # then flagged to play rotated, below
    "vp9_10bit": ("vp9_10bit.webm", ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p10le", "-deadline", "realtime",
                                     "-cpu-used", "8", "-b:v", "1M"]),
    "h264_444": ("h264_444.mp4", ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"]),
    "prores": ("prores.mov", ["-c:v", "prores_ks", "-profile:v", "0"]),
    "mjpeg": ("mjpeg.avi", ["-c:v", "mjpeg", "-q:v", "5"]),
    "mpeg4_part2": ("mpeg4.avi", ["-c:v", "mpeg4", "-q:v", "5"]),
}
"""name: (file name, ffmpeg output options). The rotated one is stored landscape and shown portrait, as phones do."""


def codec_copies(source: Path, folder: Path, seconds: float = 3.0) -> dict[str, Path]:
    """The first `seconds` of `source` in every format of `CODECS`, without audio."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = {}
    for name, (file_name, options) in CODECS.items():
        copies[name] = folder / file_name
        target = folder / f"stored_{file_name}" if name == "hevc_portrait_rotated" else copies[name]
        ffmpeg("-i", str(source), "-t", str(seconds), "-an", *options, str(target))
        if name == "hevc_portrait_rotated":
            ffmpeg("-display_rotation", "90", "-i", str(target), "-c", "copy", str(copies[name]))
    return copies


REFUSALS = {
    "audio_with_cover_mp4": "is an audio file with a cover picture, not a video",
    "audio_with_cover_mkv": "is an audio file with a cover picture, not a video",
    "audio_with_cover_mp3": "is an audio file, not a video",
    "audio_only_mp4": "not a video that can be read",
    "subtitles_only_mkv": "not a video that can be read",
    "random_bytes": "not a video that can be read",
    "zip_archive": "not a video that can be read",
    "gzip_archive": "not a video that can be read",
    "pdf": "not a video that can be read",
    "mp4_header_only": "not a video that can be read",
    "mp4_first_kilobytes": "not a video that can be read",
    "gif_still": "is a still image, not a video",
    "webp_still": "is a still image, not a video",
    "bmp_still": "is a still image, not a video",
}
"""The broken ones in `more_odd_inputs`, and a phrase of the sentence the user sees."""


def more_odd_inputs(folder: Path) -> dict[str, Path]:
    """Broken files (named in `REFUSALS`) and odd ones that decode; small and short, so quick to make."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def made(name: str, file_name: str, *args: str) -> None:
        files[name] = folder / file_name
        ffmpeg(*args, str(files[name]))

    cover = ["-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-f", "lavfi", "-i", "testsrc=size=160x160",
             "-frames:v", "1", "-map", "0:a", "-map", "1:v", "-disposition:v", "attached_pic"]
    made("audio_with_cover_mp4", "song_with_cover.mp4", *cover, "-c:v", "mjpeg")
    picture = folder / "cover.jpg"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x160", "-frames:v", "1", str(picture))
    made("audio_with_cover_mkv", "song_with_cover.mkv", "-f", "lavfi", "-i", "sine=duration=2", "-attach",
         str(picture), "-metadata:s:t", "mimetype=image/jpeg")
    made("audio_with_cover_mp3", "song_with_cover.mp3", *cover, "-c:v", "mjpeg", "-id3v2_version", "3")
    made("audio_only_mp4", "voice_memo.mp4", "-f", "lavfi", "-i", "sine=frequency=300:duration=2", "-brand", "isom")
    made("subtitles_only_mkv", "subtitles.mkv", "-f", "lavfi", "-i", "anullsrc=d=1", "-i",
         str(_subtitles(folder / "lines.srt")), "-map", "1:s")
    files["random_bytes"] = folder / "noise.mp4"
    files["random_bytes"].write_bytes(bytes((i * 7919 + 13) % 251 for i in range(50_000)))
    files["zip_archive"] = folder / "holiday.mp4"
    with zipfile.ZipFile(files["zip_archive"], "w") as archive:
        archive.writestr("clip.txt", "not a video" * 100)
    files["gzip_archive"] = folder / "clip.mp4.gz.mp4"
    files["gzip_archive"].write_bytes(gzip.compress(b"not a video" * 100))
    files["pdf"] = folder / "slides.mp4"
    files["pdf"].write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    whole = pattern_clip(folder / "whole.mp4", "320x240", 2.0)
    files["mp4_header_only"] = folder / "header_only.mp4"
    files["mp4_header_only"].write_bytes(whole.read_bytes()[:32])
    files["mp4_first_kilobytes"] = folder / "first_kilobytes.mp4"
    files["mp4_first_kilobytes"].write_bytes(whole.read_bytes()[:2048])
    made("gif_still", "still.gif", "-f", "lavfi", "-i", "testsrc=size=160x120", "-frames:v", "1")
    made("webp_still", "still.webp", "-f", "lavfi", "-i", "testsrc=size=160x120", "-frames:v", "1")
    made("bmp_still", "still.bmp", "-f", "lavfi", "-i", "testsrc=size=160x120", "-frames:v", "1")

    stored = pattern_clip(folder / "phone_stored.mp4", "320x180", 2.0)
    made("portrait_phone", "phone.mp4", "-display_rotation", "90", "-i", str(stored), "-c", "copy")
    made("several_video_streams", "two_angles.mkv", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
         "-f", "lavfi", "-i", "smptebars=size=640x360:rate=25", "-t", "2", "-map", "0:v", "-map", "1:v",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    made("video_only_webm", "dash_video.webm", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "2",
         "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-an", "-live", "1")
    made("hevc_4k", "4k_hevc.mp4", "-f", "lavfi", "-i", "testsrc=size=3840x2160:rate=25", "-t", "1", *_HEVC,
         "-tag:v", "hvc1")
    made("animated_gif", "animation.gif", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2")
    made("fragmented_mp4", "screen_recording.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t",
         "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags",
         "frag_keyframe+empty_moov")
    made("high_frame_rate", "slow_motion.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=120", "-t", "1",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    made("with_audio_mkv", "with_sound.mkv", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi",
         "-i", "sine=d=2", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    made("interlaced_mpeg2", "camcorder.mpg", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "2",
         "-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-q:v", "5")
    made("odd_size", "odd_size.mkv", "-f", "lavfi", "-i", "testsrc=size=321x241:rate=25", "-t", "2",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p")
    return files


def _subtitles(path: Path) -> Path:
    path.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n")
    return path
