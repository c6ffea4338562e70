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
from yt_dlp.utils import DownloadError, ExtractorError

from recognition.download import DownloadRefused, download, downloaded_video, explain
from recognition.limits import Limits
from recognition.url_guard import ALLOW_LOCAL_ENV, LocalAccess
from recognition.video import probe
from tests.conftest import UCF14, needs_ucf14, validation_clip, write_clip


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; under /stream/ it announces no length, as some servers do.

    `/redirect?to=URL` answers 302 to URL. Every path asked for is noted in `server.paths`.
    """

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        query = urllib.parse.urlsplit(self.path)
        if query.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", urllib.parse.parse_qs(query.query)["to"][0])
            self.end_headers()
        else:
            super().do_GET()

    def send_header(self, keyword: str, value: str) -> None:
        if not (self.path.startswith("/stream/") and keyword.lower() == "content-length"):
            super().send_header(keyword, value)

    def translate_path(self, path: str) -> str:
        return super().translate_path(path.removeprefix("/stream"))

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


@pytest.mark.parametrize("site_message, advice", [
    ("Sign in to confirm you’re not a bot. Use --cookies-from-browser or --cookies for the authentication.",
     "upload the file instead"),
    ("Private video. Sign in if you've been granted access to this video", "private, removed"),
    ("Video unavailable. This video has been removed by the uploader", "private, removed"),
    ("Sign in to confirm your age. This video may be inappropriate for some users.", "signed-in account"),
])
def test_site_refusals_get_their_own_message(site_message: str, advice: str):
    error = DownloadError(f"ERROR: [youtube] abc: {site_message}", (ExtractorError, ExtractorError(site_message),
                                                                     None))
    assert advice in explain(error)


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


@pytest.mark.parametrize("target, sentence", [
    ("http://169.254.169.254/latest/meta-data/", "That link points at a link-local address (169.254.169.254)"),
    ("http://10.0.0.1/clip.mp4", "That link points at a private network address (10.0.0.1)"),
    ("http://192.168.1.1/clip.mp4", "That link points at a private network address (192.168.1.1)"),
    ("http://172.16.5.4/clip.mp4", "That link points at a private network address (172.16.5.4)"),
    ("http://100.64.0.1/clip.mp4", "That link points at a non-public address (100.64.0.1)"),
    ("http://127.0.0.2/clip.mp4", "That link points at a loopback address (127.0.0.2)"),
    ("http://2130706434/clip.mp4", "That link points at a loopback address (127.0.0.2)"),
    ("http://0x7f000002/clip.mp4", "That link points at a loopback address (127.0.0.2)"),
    ("http://[::1]/clip.mp4", "That link points at a loopback address (::1)"),
    ("http://[::ffff:10.0.0.1]/clip.mp4", "That link points at a private network address"),
    ("http://[fd00::1]/clip.mp4", "That link points at a private network address (fd00::1)"),
    ("http://0.0.0.0/clip.mp4", "That link points at an unspecified address (0.0.0.0)"),
    ("http://224.0.0.1/clip.mp4", "That link points at a multicast address (224.0.0.1)"),
    ("file:///etc/passwd", "That is not a web link"),
])
def test_a_public_link_that_redirects_to_a_private_address_gets_nothing(site: _Site, tmp_path: Path, target: str,
                                                                        sentence: str):
    """The site (allowed, as a public one would be) answers 302 to an address the server must not fetch."""
    message = _refusal(f"{site.base}/redirect?to={urllib.parse.quote(target)}", tmp_path,
                       local=LocalAccess(addresses=frozenset({"127.0.0.1"})))
    assert message.startswith(sentence), message
    assert "\n" not in message and not any(tmp_path.iterdir())


def test_a_chain_of_redirects_ending_at_a_private_address_gets_nothing(site: _Site, tmp_path: Path):
    last = urllib.parse.quote("http://169.254.169.254/latest/meta-data/")
    middle = urllib.parse.quote(f"{site.base}/redirect?to={last}")
    message = _refusal(f"{site.base}/redirect?to={middle}", tmp_path,
                       local=LocalAccess(addresses=frozenset({"127.0.0.1"})))
    assert message.startswith("That link points at a link-local address (169.254.169.254)")
