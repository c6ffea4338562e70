"""Downloads through the real yt-dlp, from an HTTP server on 127.0.0.1 (no internet needed)."""

from __future__ import annotations

import functools
import http.server
import shutil
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yt_dlp
from yt_dlp.utils import DownloadError

from recognition.download import (
    COOKIES_ENV,
    COOKIES_TEXT_ENV,
    FORMAT,
    DownloadRefused,
    _GuardedYoutubeDL,
    _options,
    _Watch,
    download,
    downloaded_video,
    explain,
)
from recognition.limits import Limits
from recognition.url_guard import ALLOW_LOCAL_ENV, LocalAccess
from recognition.video import probe
from tests.helpers import UCF14, needs_ucf14, validation_clip, write_clip


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; under /stream/ it announces no length, as some servers do.

    `/redirect?to=URL` answers 302 to URL. Under /stall/ it sends half of the file and
    stops, then answers 403 to the request that resumes it, as YouTube does with a
    server it throttled. `/members/...` answers 403 unless the request carries the
    cookie `session=member`. Every path asked for is noted in `server.paths`.
    """

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        query = urllib.parse.urlsplit(self.path)
        if query.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", urllib.parse.parse_qs(query.query)["to"][0])
            self.end_headers()
        elif query.path.startswith("/stall/"):
            self._stall(Path(self.translate_path(query.path.removeprefix("/stall"))))
        elif query.path.startswith("/members/") and "session=member" not in (self.headers.get("Cookie") or ""):
            self.send_error(403)
        else:
            super().do_GET()

    def _stall(self, path: Path) -> None:
        if self.headers.get("Range"):
            self.send_error(403)
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "video/x-msvideo")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.close_connection = True

    def translate_path(self, path: str) -> str:
        return super().translate_path(path.removeprefix("/stream").removeprefix("/members"))

    def send_header(self, keyword: str, value: str) -> None:
        if not (self.path.startswith("/stream/") and keyword.lower() == "content-length"):
            super().send_header(keyword, value)

    def log_message(self, *args) -> None:
        """Keep the test output clean."""


class _Site(http.server.ThreadingHTTPServer):
    """A local web site at `base`."""

    def __init__(self, root: Path, host: str = "127.0.0.1"):
        super().__init__((host, 0), functools.partial(_Handler, directory=str(root)))
        self.base = f"http://{host}:{self.server_port}"
        self.paths: list[str] = []

    def handle_error(self, request, client_address) -> None:
        """A client that stops reading (a refused download) is expected here."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Site]:
    """Clips, a page without video, a page with two videos, and a page whose metadata says 20 minutes."""
    root = tmp_path_factory.mktemp("site")
    write_clip(root / "square.avi", frames=30, fps=10.0)
    write_clip(root / "long_square.avi", frames=300, fps=10.0)
    write_clip(root / "twenty_minutes.avi", frames=30, fps=10.0)
    if UCF14.is_dir():
        shutil.copy(validation_clip("PullUps"), root / "real.mp4")
    (root / "page.html").write_text("<html><body><h1>No video here</h1></body></html>")
    (root / "two_videos.html").write_text(
        '<html><body><video src="/square.avi"></video><video src="/long_square.avi"></video></body></html>')
    site = _Site(root)
    (root / "twenty_minutes.html").write_text(
        '<html><head><title>A long one</title><script type="application/ld+json">'
        '{"@context": "https://schema.org", "@type": "VideoObject", "name": "A long one", "duration": "PT20M", '
        f'"uploadDate": "2024-01-01", "contentUrl": "{site.base}/twenty_minutes.avi"}}</script></head><body></body></html>')
    threading.Thread(target=site.serve_forever, daemon=True).start()
    yield site
    site.shutdown()
    site.server_close()


@pytest.fixture(autouse=True)
def local_site_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test site is on 127.0.0.1, which the address guard refuses unless told otherwise."""
    monkeypatch.setenv(ALLOW_LOCAL_ENV, "127.0.0.1")


def _refusal(url: str, tmp_path: Path, limits: Limits = Limits(), local: LocalAccess | None = None) -> str:
    with pytest.raises(DownloadRefused) as refused:
        download(url, tmp_path, limits, local=local)
    return str(refused.value)


@needs_ucf14
def test_downloads_a_real_clip_into_a_folder_that_is_removed_afterwards(site: _Site):
    progress: list[float] = []
    with downloaded_video(f"{site.base}/real.mp4", progress=lambda fraction, _: progress.append(fraction)) as path:
        assert path.read_bytes() == validation_clip("PullUps").read_bytes()
        assert probe(path).duration_s > 1
        folder = path.parent
    assert not folder.exists()
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)


def test_synthetic_clip_keeps_its_container(site: _Site, tmp_path: Path):
    path = download(f"{site.base}/square.avi", tmp_path)
    assert path.parent == tmp_path and path.suffix == ".avi"
    assert probe(path).frame_count == 30


def test_missing_video_says_nothing_was_found(site: _Site, tmp_path: Path):
    assert "Nothing was found at that link (HTTP 404)" in _refusal(f"{site.base}/gone.mp4", tmp_path)


def test_web_page_without_a_video_says_so(site: _Site, tmp_path: Path):
    assert _refusal(f"{site.base}/page.html", tmp_path).startswith("No video found at that link")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/clip.mp4", "javascript:alert(1)",
                                 "clip.mp4", "http://", ""])
def test_only_http_links_are_accepted(url: str, tmp_path: Path):
    assert _refusal(url, tmp_path).startswith("That is not a web link")
    assert not any(tmp_path.iterdir())


def test_playlists_are_refused(site: _Site, tmp_path: Path):
    assert "playlist" in _refusal(f"{site.base}/two_videos.html", tmp_path)
    assert not any(tmp_path.iterdir())


def test_too_big_is_refused_from_the_announced_length(site: _Site, tmp_path: Path):
    message = _refusal(f"{site.base}/square.avi", tmp_path, Limits(max_bytes=1000))
    assert message == "The linked video is too big: this demo takes files up to 1 kB."
    assert not any(tmp_path.iterdir())


def test_too_big_is_refused_while_downloading_when_no_length_is_announced(site: _Site, tmp_path: Path):
    message = _refusal(f"{site.base}/stream/square.avi", tmp_path, Limits(max_bytes=5000))
    assert message.startswith("The linked video is too big: it is ") and message.endswith("up to 5 kB.")


def test_too_long_is_refused_from_metadata_before_downloading(site: _Site, tmp_path: Path):
    steps: list[str] = []
    with pytest.raises(DownloadRefused) as refused:
        download(f"{site.base}/twenty_minutes.html", tmp_path, Limits(max_seconds=600),
                 progress=lambda _, step: steps.append(step))
    assert str(refused.value).startswith("The linked video is too long: it is 20 min long")
    assert "up to 10 min" in str(refused.value)
    assert steps == ["Looking up the link"] and not any(tmp_path.iterdir())


def test_too_long_is_refused_from_the_file_when_the_link_has_no_metadata(site: _Site, tmp_path: Path):
    message = _refusal(f"{site.base}/long_square.avi", tmp_path, Limits(max_seconds=10))
    assert message.startswith("The linked video is too long: it is 30 s long") and "up to 10 s" in message
    assert not any(tmp_path.iterdir())


def test_unreachable_site_is_a_network_error(tmp_path: Path):
    with http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler) as closed:
        port = closed.server_port
    assert _refusal(f"http://127.0.0.1:{port}/clip.mp4", tmp_path).startswith("Couldn't reach that site")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_local_addresses_are_refused_without_a_request(host: str, site: _Site, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(ALLOW_LOCAL_ENV)
    asked_before = len(site.paths)
    message = _refusal(f"http://{host}:{site.server_port}/square.avi", tmp_path)
    assert message.startswith("That link points at a loopback address") and "upload the file" in message
    assert len(site.paths) == asked_before and not any(tmp_path.iterdir())


def test_a_redirect_to_a_forbidden_address_is_not_followed(site: _Site, tmp_path: Path):
    """The guard allows the site on 127.0.0.1 only; its redirect to a second server on 127.0.0.2 must stop."""
    other = _Site(tmp_path / "other", host="127.0.0.2")
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        target = urllib.parse.quote(f"{other.base}/square.avi")
        message = _refusal(f"{site.base}/redirect?to={target}", tmp_path / "download",
                           local=LocalAccess(addresses=frozenset({"127.0.0.1"})))
    finally:
        other.shutdown()
        other.server_close()
    assert message.startswith("That link points at a loopback address (127.0.0.2)")
    assert other.paths == [] and site.paths[-1].startswith("/redirect")


def test_a_redirect_to_an_allowed_address_is_followed(site: _Site, tmp_path: Path):
    target = urllib.parse.quote(f"{site.base}/square.avi")
    path = download(f"{site.base}/redirect?to={target}", tmp_path)
    assert probe(path).frame_count == 30


def test_a_host_name_that_rebinds_to_a_forbidden_address_gets_nothing(site: _Site, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    """DNS rebinding: the name is public whenever the guard looks it up, and loopback when yt-dlp connects.

    An attacker's DNS server can answer so (short-lived answers that change); here the
    system resolver is replaced by one that does: the guard's lookups ask for no port.
    """
    monkeypatch.delenv(ALLOW_LOCAL_ENV)
    real_getaddrinfo = socket.getaddrinfo
    answers: list[str] = []

    def rebinding_getaddrinfo(host, port, *args, **kwargs):
        if host != "rebinding.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        answers.append("93.184.216.34" if port is None else "127.0.0.1")
        return real_getaddrinfo(answers[-1], port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    asked_before = len(site.paths)
    message = _refusal(f"http://rebinding.example:{site.server_port}/square.avi", tmp_path)
    assert message.startswith("That link led to a loopback address (127.0.0.1)"), message
    assert "93.184.216.34" in answers and "127.0.0.1" in answers
    assert len(site.paths) == asked_before and not any(tmp_path.iterdir())


def test_a_download_stopped_with_403_after_a_stall_says_to_upload_the_file(site: _Site, tmp_path: Path):
    message = _refusal(f"{site.base}/stall/square.avi", tmp_path)
    assert message.startswith("The site stopped the download (HTTP 403)") and "upload the file" in message
    assert any(path.startswith("/stall/") for path in site.paths)


def _cookies_file(path: Path, host: str = "127.0.0.1") -> Path:
    """A Netscape cookies file, as browser extensions export it, with `session=member` for `host`."""
    path.write_text(f"# Netscape HTTP Cookie File\n{host}\tFALSE\t/\tFALSE\t0\tsession\tmember\n")
    return path


def test_without_cookies_a_members_only_file_is_refused(site: _Site, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(COOKIES_ENV, raising=False)
    monkeypatch.delenv(COOKIES_TEXT_ENV, raising=False)
    assert "HTTP 403" in _refusal(f"{site.base}/members/square.avi", tmp_path)


@pytest.mark.parametrize("setting", [COOKIES_ENV, COOKIES_TEXT_ENV])
def test_the_cookies_reach_yt_dlp_and_their_file_is_left_as_it_was(setting: str, site: _Site, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch):
    cookies = _cookies_file(tmp_path / "cookies.txt")
    before = cookies.read_bytes()
    monkeypatch.setenv(setting, str(cookies) if setting == COOKIES_ENV else cookies.read_text())
    (tmp_path / "download").mkdir()
    path = download(f"{site.base}/members/square.avi", tmp_path / "download")
    assert probe(path).frame_count == 30 and [p.name for p in path.parent.iterdir()] == [path.name]
    assert cookies.read_bytes() == before


def test_a_missing_cookies_file_is_a_clear_error(site: _Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(COOKIES_ENV, str(tmp_path / "no-such-cookies.txt"))
    asked_before = len(site.paths)
    message = _refusal(f"{site.base}/square.avi", tmp_path)
    assert message.startswith(f"This server is set up to send a cookies file ({COOKIES_ENV}) that does not exist")
    assert "upload the file" in message and len(site.paths) == asked_before


# -- Format choice: yt-dlp's own selector, given the formats a site lists ------------------------------------

def _format(format_id: str, height: int | None, ext: str = "mp4", vcodec: str = "avc1", acodec: str = "none") -> dict:
    return {"format_id": format_id, "url": f"https://media.example/{format_id}", "ext": ext, "height": height,
            "width": height and height * 16 // 9, "vcodec": vcodec, "acodec": acodec, "protocol": "https"}


YOUTUBE_FORMATS = [  # itags as YouTube lists them, worst first
    _format("sb0", None, "mhtml", "none"), _format("139", None, "m4a", "none", "mp4a"),
    _format("251", None, "webm", "none", "opus"), _format("18", 360, acodec="mp4a"),
    _format("134", 360), _format("243", 360, "webm", "vp9"), _format("135", 480), _format("244", 480, "webm", "vp9"),
    _format("136", 720), _format("137", 1080), _format("248", 1080, "webm", "vp9"),
]


def _chosen(formats: list[dict]) -> str:
    with yt_dlp.YoutubeDL({"format": FORMAT, "quiet": True, "no_warnings": True}) as downloader:
        info = downloader.process_ie_result({"id": "x", "title": "x", "extractor": "test", "extractor_key": "Test",
                                             "webpage_url": "https://media.example/x", "formats": formats},
                                            download=False)
    return info["format_id"]


@pytest.mark.parametrize("formats, chosen", [
    (YOUTUBE_FORMATS, "18"),
    ([f for f in YOUTUBE_FORMATS if f["format_id"] != "18"], "135"),  # SABR without format 18: video only
    ([f for f in YOUTUBE_FORMATS if f["format_id"] not in ("18", "134", "135")], "244"),
    ([_format("hls-720", 720, acodec="mp4a"), _format("hls-360", 360, acodec="mp4a")], "hls-360"),
    ([_format("hd", 1080, acodec="mp4a")], "hd"),  # nothing small: the rest, within the size cap
    ([{"format_id": "0", "url": "https://media.example/clip.avi", "ext": "avi"}], "0"),  # a direct link
], ids=["format-18", "video-only-480p-mp4", "video-only-480p-webm", "progressive-480p", "larger", "direct-link"])
def test_format_order_prefers_what_survives_on_data_centre_addresses(formats: list[dict], chosen: str):
    assert _chosen(formats) == chosen


# -- Site refusals: yt-dlp's own error paths, through the project's mapping -------------------------------------
#
# Each case raises what yt-dlp raises for that failure, from a stand-in extractor: the
# reason YouTube gives (quoted as users reported it, e.g. yt-dlp issue #12373) goes through
# yt-dlp's own `raise_no_formats`, `raise_geo_restricted`, `report_warning` and format
# selection. The parts yt-dlp writes itself are checked against the installed source, so a
# yt-dlp update that rewords them fails here.

YT_DLP_SOURCE = Path(yt_dlp.__file__).parent
LOGIN_HINT = ("Use --cookies-from-browser or --cookies for the authentication. See  "
              "https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp  for how to manually "
              "pass cookies. Also see  https://github.com/yt-dlp/yt-dlp/wiki/Extractors#exporting-youtube-cookies  "
              "for tips on effectively exporting YouTube cookies")
N_CHALLENGE = ("n challenge solving failed: Some formats may be missing. Ensure you have a supported JavaScript "
               "runtime and challenge solver script distribution installed. Review any warnings presented before "
               "this message. For more details, refer to  https://github.com/yt-dlp/yt-dlp/wiki/EJS")
NO_RUNTIME = ("No supported JavaScript runtime could be found. Only deno is enabled by default; to use another "
              "runtime add  --js-runtimes RUNTIME[:PATH]  to your command/config. YouTube extraction without a JS "
              "runtime has been deprecated, and some formats may be missing. See  "
              "https://github.com/yt-dlp/yt-dlp/wiki/EJS  for details on installing one")
RATE_LIMITED = ("This content isn't available, try again later. The current session has been rate-limited by "
                "YouTube for up to an hour. It is recommended to use `-t sleep` to add a delay between video "
                "requests to avoid exceeding the rate limit.")

# (case, how yt-dlp raises it, the text, the part of it yt-dlp writes itself and where, what the user hears)
REFUSALS = [
    ("bot-check", "no_formats", f"Sign in to confirm you’re not a bot. {LOGIN_HINT}",
     ("extractor/common.py", "Use --cookies-from-browser or --cookies for the authentication"),
     "YouTube asked this server to prove it is not a bot"),
    ("blocked-ip", "no_formats", "All player responses are invalid. Your IP is likely being blocked by Youtube",
     ("extractor/youtube/_video.py", "Your IP is likely being blocked by Youtube"),
     "YouTube asked this server to prove it is not a bot"),
    ("age-gate", "no_formats", f"Sign in to confirm your age. This video may be inappropriate for some users. "
     f"{LOGIN_HINT}", ("extractor/youtube/_video.py", "'confirm your age'"), "age-restricted"),
    ("members-only", "no_formats", "Join this channel to get access to members-only content like this video, and "
     "other exclusive perks.", None, "only for signed-in viewers or members"),
    ("login", "no_formats", "This video is only available for registered users",
     ("extractor/common.py", "This video is only available for registered users"), "signed-in viewers"),
    ("private", "no_formats", f"Private video. Sign in if you've been granted access to this video. {LOGIN_HINT}",
     None, "That video is private"),
    ("removed", "no_formats", "Video unavailable. This video has been removed by the uploader", None,
     "That video has been removed or is unavailable"),
    ("terminated", "no_formats", "Video unavailable. This video is no longer available because the YouTube account "
     "associated with this video has been terminated.", None, "That video has been removed or is unavailable"),
    ("rate-limited", "no_formats", RATE_LIMITED,
     ("extractor/youtube/_video.py", "has been rate-limited by YouTube for up to an hour"),
     "YouTube is limiting how many videos this server may fetch"),
    ("geo-blocked", "geo", "The uploader has not made this video available in your country",
     ("extractor/youtube/_video.py", "The uploader has not made this video available in your country"),
     "not available in the country this server is in"),
    ("geo-default", "geo", "This video is not available from your location due to geo restriction",
     ("extractor/common.py", "This video is not available from your location due to geo restriction"),
     "not available in the country this server is in"),
    ("no-format", "images_only", "", ("YoutubeDL.py", "Requested format is not available"),
     "That link offers no video stream this server can fetch"),
    ("n-challenge", "images_only", N_CHALLENGE, ("extractor/youtube/_video.py", "n challenge solving failed: "),
     "JavaScript challenge"),
    ("no-js-runtime", "images_only", NO_RUNTIME,
     ("extractor/youtube/_video.py", "No supported JavaScript runtime could be found"), "JavaScript challenge"),
]


class _RefusingIE(yt_dlp.extractor.common.InfoExtractor):
    """A stand-in site that fails the way YouTube does, through yt-dlp's own error paths."""

    IE_NAME = "refusing"
    _VALID_URL = r"https://refusing\.example/(?P<id>[\w-]+)"

    def _real_extract(self, url: str) -> dict:
        case = self._match_id(url)
        _, how, text, _, _ = next(refusal for refusal in REFUSALS if refusal[0] == case)
        if how == "no_formats":
            self.raise_no_formats(text, expected=True)
        if how == "geo":
            self.raise_geo_restricted(text, countries=["US"], metadata_available=True)
        if text:
            self.report_warning(text, case)
        return {"id": case, "title": case, "formats": [_format("sb0", None, "mhtml", "none")]}


@pytest.mark.parametrize("case, how, text, source, message", REFUSALS, ids=[refusal[0] for refusal in REFUSALS])
def test_each_site_refusal_gets_its_own_sentence_with_the_way_out(case: str, how: str, text: str,
                                                                  source: tuple[str, str] | None, message: str,
                                                                  tmp_path: Path):
    if source:
        file, quoted = source
        assert quoted in (YT_DLP_SOURCE / file).read_text(), f"yt-dlp no longer says {quoted!r} in {file}"
    watch = _Watch(Limits(), lambda fraction, step: None)
    with pytest.raises(DownloadError) as failed, \
            _GuardedYoutubeDL(_options(tmp_path, watch, 5.0), LocalAccess()) as downloader:
        downloader.add_info_extractor(_RefusingIE(downloader))
        info = downloader.extract_info(f"https://refusing.example/{case}", download=False,
                                          ie_key=_RefusingIE.ie_key())
        downloader.process_ie_result(info, download=True)
    sentence = explain(failed.value, watch.logger.warnings)
    assert message in sentence, sentence
    assert sentence.count(".") <= 1 and sentence.endswith(".")
    assert "upload" in sentence
    assert not any(tmp_path.iterdir())
