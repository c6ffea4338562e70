"""Fetch one video from a link with yt-dlp, within the size and length caps.

    with downloaded_video("https://example.com/clip.mp4") as path:
        recognizer.recognize(path)
    # the temporary folder, and the video in it, are gone here

Everything the user controls is the URL: the options, the format and the output
template are fixed here. Links to local or private addresses are refused before
the first request, on every request yt-dlp makes, on every redirect, and on
every socket it connects (see `url_guard`). We ask for one file of at most 480p
(the models see 224 px), so no merging and no system ffmpeg are needed: first
YouTube's format 18, often the only one it still gives a data-centre address,
then any file with sound, then a video-only stream (the models need no sound),
then anything. The caps are checked three times: on the metadata before anything is
downloaded, by yt-dlp while downloading (`match_filter`, `max_filesize`, a byte
counter for servers that send no length), and on the file itself, since direct
links carry no duration. Every failure becomes a `DownloadRefused` whose message
is one sentence a user can act on; where a site won't hand a video to a server,
it says to download it and upload the file.

`ACTION_LENS_COOKIES_FILE` may name a cookies file (Netscape format, as browser
extensions export it) for yt-dlp to send, so that YouTube sees a signed-in
account; `ACTION_LENS_COOKIES` may hold that file's text instead (a Space secret
is an environment variable, not a file). Both are off by default: YouTube may ban
an account whose cookies a server uses, and the cookies give full access to the
account, so use a throwaway one. Each download gets its own copy, since yt-dlp
writes the cookies back when it is done.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import yt_dlp
from yt_dlp.networking._requests import RequestsRH
from yt_dlp.networking.common import Request
from yt_dlp.networking.exceptions import HTTPError, RequestError, TransportError
from yt_dlp.utils import GeoRestrictedError, UnsupportedError, YoutubeDLError

from recognition import url_guard
from recognition.limits import Limits, describe_bytes
from recognition.progress import Progress
from recognition.progress import no_progress as _no_progress
from recognition.video import VideoError, probe

FORMAT = "/".join((
    "18[ext=mp4]",                       # YouTube's 360p MP4 with sound: what survives on data-centre addresses
    "best[ext=mp4][height<=480]",        # a file with sound, up to 480p
    "best[height<=480]",
    "bestvideo[ext=mp4][height<=480]",   # a video-only stream: no merging needed, and no sound is needed
    "bestvideo[height<=480]",
    "best",                              # the rest: larger files, and direct links that give no height
    "bestvideo",
))
SOCKET_TIMEOUT_S = 20.0
COOKIES_ENV = "ACTION_LENS_COOKIES_FILE"
COOKIES_TEXT_ENV = "ACTION_LENS_COOKIES"

log = logging.getLogger(__name__)


class DownloadRefused(VideoError):
    """A link we could not or would not download; the message is meant for the user."""


class _OverSizeCap(YoutubeDLError):
    """Raised from the progress hook to stop a download that outgrew the size cap."""


class _AddressRefused(RequestError):
    """A request or redirect to an address the guard forbids; yt-dlp passes it on like a network error."""


def check_url(url: str, local: url_guard.LocalAccess = url_guard.LocalAccess()) -> str:
    """The URL, stripped, if the server may fetch it; `DownloadRefused` otherwise."""
    if problem := url_guard.url_problem(url, local):
        raise DownloadRefused(problem)
    return url.strip()


def _guard_request(url: str, local: url_guard.LocalAccess) -> None:
    """Stop a request that yt-dlp is about to make, when its address is forbidden."""
    if problem := url_guard.url_problem(url, local):
        raise _AddressRefused(problem)


class _GuardedRequestsRH(RequestsRH):
    """yt-dlp's `requests` handler, with the address guard on every redirect."""

    def __init__(self, *args: Any, local: url_guard.LocalAccess, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.local = local

    def _guard_redirect(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """A `requests` response hook: it runs before a redirect is followed, so a forbidden target gets nothing."""
        if response.is_redirect:
            _guard_request(urllib.parse.urljoin(response.url, response.headers["location"]), self.local)

    def _create_instance(self, *args: Any, **kwargs: Any) -> requests.Session:
        session = super()._create_instance(*args, **kwargs)
        session.hooks["response"].append(self._guard_redirect)
        return session


class _GuardedYoutubeDL(yt_dlp.YoutubeDL):
    """A `YoutubeDL` whose every request and redirect goes through the address guard.

    It sends through the guarded handler only: with a second handler, yt-dlp would
    retry a request that the first one refused.
    """

    def __init__(self, params: dict[str, Any], local: url_guard.LocalAccess):
        self.local = local
        super().__init__(params)

    def urlopen(self, request: Request | str):
        _guard_request(request if isinstance(request, str) else request.url, self.local)
        return super().urlopen(request)

    def build_request_director(self, handlers, preferences=None):
        guarded = functools.partial(_GuardedRequestsRH, local=self.local)
        return super().build_request_director([guarded], preferences)


def _too_long(limits: Limits, seconds: float | None) -> str | None:
    problem = limits.duration_problem(seconds)
    return f"The linked video is too long: {problem}." if problem else None


def _too_big(limits: Limits, size: float | None) -> str | None:
    problem = limits.size_problem(size)
    return f"The linked video is too big: {problem}." if problem else None


def _metadata_problem(info: dict[str, Any], limits: Limits) -> str | None:
    """Why the metadata alone rules a link out, or None."""
    if info.get("_type") in ("playlist", "multi_video"):
        return "That link is a playlist or a channel: paste the link of a single video."
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
        return "That link is a live stream: this demo needs a recorded video."
    return (_too_long(limits, info.get("duration"))
            or _too_big(limits, info.get("filesize") or info.get("filesize_approx")))


class _Logger:
    """Sends yt-dlp's console output to `logging`, so nothing is printed to the server's terminal.

    It keeps the warnings too: some failures are only explained by a warning that came before them.
    """

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def debug(self, message: str) -> None:
        log.debug(message)

    def info(self, message: str) -> None:
        log.debug(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        log.info(message)

    def error(self, message: str) -> None:
        log.info(message)


class _Watch:
    """What happened during one download: yt-dlp reports it through callbacks."""

    def __init__(self, limits: Limits, progress: Progress):
        self.limits = limits
        self.progress = progress
        self.rejection: str | None = None
        self.logger = _Logger()

    def match_filter(self, info: dict[str, Any], incomplete: bool = False) -> str | None:
        """yt-dlp's `match_filter`: a reason to skip the video, or None to go ahead."""
        if not incomplete:
            self.rejection = _metadata_problem(info, self.limits)
        return self.rejection

    def progress_hook(self, status: dict[str, Any]) -> None:
        """Report progress, and stop a download once it is past the size cap."""
        done = status.get("downloaded_bytes") or 0
        if too_big := _too_big(self.limits, done):
            self.rejection = too_big
            raise _OverSizeCap(too_big)
        total = status.get("total_bytes") or status.get("total_bytes_estimate")
        if status.get("status") == "downloading" and total:
            self.progress(min(done / total, 1.0), f"Downloading ({done / 1e6:.1f} of {total / 1e6:.1f} MB)")


def cookies() -> str | None:
    """The cookies yt-dlp should send: `ACTION_LENS_COOKIES`, or the file `ACTION_LENS_COOKIES_FILE` names."""
    if text := os.environ.get(COOKIES_TEXT_ENV, "").strip():
        return text + "\n"
    setting = os.environ.get(COOKIES_ENV, "").strip()
    if not setting:
        return None
    path = Path(setting).expanduser()
    if not path.is_file():
        log.error("%s names %s, which is not a file", COOKIES_ENV, path)
        raise DownloadRefused(f"This server is set up to send a cookies file ({COOKIES_ENV}) that does not exist, "
                              "so it can't fetch links until its operator fixes that: upload the file instead.")
    return path.read_text()


def _options(folder: Path, watch: _Watch, socket_timeout: float, cookies: Path | None = None) -> dict[str, Any]:
    return {
        **({"cookiefile": str(cookies)} if cookies else {}),
        "format": FORMAT,
        "outtmpl": {"default": str(folder / "video.%(ext)s")},
        "noplaylist": True,
        "extract_flat": "in_playlist",
        "socket_timeout": socket_timeout,
        "retries": 1,
        "max_filesize": watch.limits.max_bytes,
        "match_filter": watch.match_filter,
        "progress_hooks": [watch.progress_hook],
        "logger": watch.logger,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "cachedir": False,
        "fixup": "never",
        "overwrites": True,
    }


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what caused it, through yt-dlp's `exc_info` and `cause` as well as Python's chain."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        exc_info = getattr(current, "exc_info", None)
        pending += [getattr(current, "cause", None), current.__cause__, current.__context__,
                    exc_info[1] if exc_info else None]


UPLOAD_INSTEAD = "download it yourself and upload the file instead"
_GEO_BLOCKED = f"That video is not available in the country this server is in: {UPLOAD_INSTEAD}."

# What sites say when they won't hand a video over (the texts yt-dlp passes on, lower-cased,
# apostrophes straightened), and what we tell the user. The first match wins.
_SITE_REFUSALS = (
    (("not a bot", "your ip is likely being blocked"),
     "YouTube asked this server to prove it is not a bot, as it asks many data-centre servers, so it can't "
     f"fetch that video: {UPLOAD_INSTEAD}."),
    (("private video", "this video is private"),
     "That video is private, so this server can't fetch it: if you can watch it, download it and upload the "
     "file instead."),
    (("content isn't available, try again later", "rate-limited by youtube"),
     f"YouTube is limiting how many videos this server may fetch: try again in an hour, or {UPLOAD_INSTEAD}."),
    (("not made this video available in your country", "not available from your location"), _GEO_BLOCKED),
    (("video unavailable", "has been removed", "no longer available", "has been terminated"),
     "That video has been removed or is unavailable, so it can't be fetched: check the link, or upload the "
     "file if you have it."),
    (("confirm your age", "age-restricted", "inappropriate for some users", "members-only", "join this channel",
      "sign in", "login required", "requires authentication", "need to log in", "available for registered users"),
     "That video is age-restricted or only for signed-in viewers or members, and this server has no account: "
     f"{UPLOAD_INSTEAD}."),
)
_NO_FORMAT = ("requested format is not available", "no video formats found")
_JAVASCRIPT_NEEDED = ("javascript runtime", "challenge solving failed")
_NETWORK_FAILURES = ("timed out", "connection refused", "name or service not known",
                     "temporary failure in name resolution", "unable to connect")


def _plain(text: str) -> str:
    return text.lower().replace("\u2019", "'")


def explain(error: BaseException, warnings: list[str] | tuple[str, ...] = ()) -> str:
    """One sentence a user can act on, for anything yt-dlp raised (and the warnings it gave before)."""
    causes = list(_causes(error))
    if refused := [cause for cause in causes if isinstance(cause, _AddressRefused)]:
        return refused[0].msg
    if forbidden := [cause for cause in causes if isinstance(cause, url_guard.ConnectionForbidden)]:
        return str(forbidden[0])
    if any(isinstance(cause, GeoRestrictedError) for cause in causes):
        return _GEO_BLOCKED
    text = _plain(" ".join(str(cause) for cause in causes))
    for markers, message in _SITE_REFUSALS:
        if any(marker in text for marker in markers):
            return message
    if any(marker in text for marker in _NO_FORMAT):
        if any(marker in _plain(warning) for warning in warnings for marker in _JAVASCRIPT_NEEDED):
            return ("YouTube hid this video's streams behind a JavaScript challenge that this server can't solve: "
                    f"{UPLOAD_INSTEAD}.")
        return f"That link offers no video stream this server can fetch: {UPLOAD_INSTEAD}."
    if http_errors := [cause for cause in causes if isinstance(cause, HTTPError)]:
        status = http_errors[0].status
        if status in (404, 410):
            return f"Nothing was found at that link (HTTP {status}): check the address."
        if status == 403:
            return ("The site stopped the download (HTTP 403), as YouTube does with servers it distrusts: try "
                    f"again later, or {UPLOAD_INSTEAD}.")
        return f"The site refused the download (HTTP {status}): try again later or upload the file instead."
    if any(isinstance(cause, UnsupportedError) for cause in causes) or "unsupported url" in text:
        return ("No video found at that link: it is a web page without a video, or a site yt-dlp does not "
                "support. Try a direct link to the video file, or upload it.")
    if (any(isinstance(cause, (TransportError, TimeoutError, ConnectionError)) for cause in causes)
            or any(marker in text for marker in _NETWORK_FAILURES)):
        return "Couldn't reach that site (network error or time-out): check the link, or try again later."
    return "Couldn't download a video from that link: try a direct link to the video file, or upload it."


def _downloaded_file(folder: Path) -> Path | None:
    files = [path for path in folder.iterdir() if path.is_file() and not path.name.endswith((".part", ".ytdl"))]
    return files[0] if len(files) == 1 else None


def _check_file(path: Path, limits: Limits) -> None:
    """The last word on the caps: direct links come with no duration, and sizes can be wrong."""
    try:
        duration = probe(path).duration_s
    except VideoError as error:
        raise DownloadRefused("The link gave a file that is not a readable video: try a direct link to "
                              "the video, or upload it.") from error
    if problem := _too_big(limits, path.stat().st_size) or _too_long(limits, duration):
        raise DownloadRefused(problem)


def _cookies_copy(text: str | None, folder: Path) -> Path | None:
    """The cookies in a file of their own for one download: yt-dlp writes the file back when it is done."""
    if text is None:
        return None
    path = folder / "cookies.txt"
    path.write_text(text)
    return path


def download(url: str, folder: Path, limits: Limits | None = None, progress: Progress = _no_progress,
             socket_timeout: float = SOCKET_TIMEOUT_S, local: url_guard.LocalAccess | None = None) -> Path:
    """Download the video at `url` into `folder` (which the caller owns) and return its path.

    `local` says which local addresses may be fetched; by default the `ACTION_LENS_ALLOW_LOCAL_URLS` setting.
    """
    local = local or url_guard.LocalAccess.from_env()
    url = check_url(url, local)
    limits = limits or Limits.from_env()
    cookie_text = cookies()
    watch = _Watch(limits, progress)
    progress(0.0, "Looking up the link")
    try:
        with tempfile.TemporaryDirectory(prefix="action-lens-cookies-") as private, \
                url_guard.guarded_connections(local), \
                _GuardedYoutubeDL(_options(folder, watch, socket_timeout, _cookies_copy(cookie_text, Path(private))),
                                  local) as downloader:
            info = downloader.extract_info(url, download=False)
            if problem := _metadata_problem(info, limits):
                raise DownloadRefused(problem)
            downloader.process_ie_result(info, download=True)
    except YoutubeDLError as error:
        log.info("download of %s failed: %s", url, error)
        raise DownloadRefused(watch.rejection or explain(error, watch.logger.warnings)) from error

    path = _downloaded_file(folder)
    if path is None:
        # yt-dlp skips quietly when `match_filter` or `max_filesize` says no.
        raise DownloadRefused(watch.rejection or "The linked video is too big: this demo takes files up to "
                                                 f"{describe_bytes(limits.max_bytes)}.")
    try:
        _check_file(path, limits)
    except DownloadRefused:
        path.unlink()
        raise
    progress(1.0, "Downloaded")
    return path


@contextlib.contextmanager
def downloaded_video(url: str, limits: Limits | None = None, progress: Progress = _no_progress,
                     socket_timeout: float = SOCKET_TIMEOUT_S,
                     local: url_guard.LocalAccess | None = None) -> Iterator[Path]:
    """Download into a fresh temporary folder, yield the file, and delete the folder afterwards."""
    with tempfile.TemporaryDirectory(prefix="action-lens-download-") as folder:
        yield download(url, Path(folder), limits, progress, socket_timeout, local)
