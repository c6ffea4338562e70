"""Action Lens: drop in a video or paste a link, and two models say which action it shows.

    python app.py        # serves http://127.0.0.1:7860

Serving follows GRADIO_SERVER_NAME and GRADIO_SERVER_PORT. ACTION_LENS_WEIGHTS
names the folder of trained models (default `weights/`), loaded in the background
while the page is already served; ACTION_LENS_EXAMPLES a folder of example clips
(default `examples/`, each labelled by its file name), ACTION_LENS_QUEUE_SIZE a cap on
the requests in line at once, against floods (default 32; who may wait is decided
by the work queued, in `recognition/admission.py`) and ACTION_LENS_KEEP_OUTPUTS_S
how long result files are kept (default 3600). The caps on each video are in
`recognition/limits.py`. This file is the page and nothing else: the models,
the downloads and the explanations live in `recognition/`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import collections
import contextlib
import html
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr

from recognition import Recognition, VideoError, report
from recognition.admission import WorkQueue, describe_wait
from recognition.download import downloaded_video
from recognition.limits import Deadline, Limits, describe_seconds
from recognition.loader import ModelLoader
from recognition.metadata import WEIGHTS_DIR as SHIPPED_WEIGHTS
from recognition.preview import browser_playable_copy
from recognition.video import VIDEO_SUFFIXES, probe

ROOT = Path(__file__).resolve().parent
WEIGHTS_DIR = Path(os.environ.get("ACTION_LENS_WEIGHTS", SHIPPED_WEIGHTS))
EXAMPLES_DIR = Path(os.environ.get("ACTION_LENS_EXAMPLES", ROOT / "examples"))
WORK_DIR = Path(tempfile.gettempdir()) / "action-lens"
GRADIO_UPLOADS = Path(gr.utils.get_upload_folder())
KEEP_OUTPUTS_S = float(os.environ.get("ACTION_LENS_KEEP_OUTPUTS_S", 3600))
SWEEP_EVERY_S = max(1, int(min(KEEP_OUTPUTS_S, 600) / 2))
DOWNLOAD_SHARE = 0.2  # of the progress bar, when the video comes from a link
QUEUE_SIZE = int(os.environ.get("ACTION_LENS_QUEUE_SIZE", 32))
# Webcam recordings: a modest resolution, and no microphone (the models need no sound, so no
# extra permission). The component keeps the recording as it comes (include_audio=True, not
# mirrored): stripping sound or mirroring back would need an ffmpeg on PATH, and there is none.
WEBCAM = {"audio": False, "video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}
KEPT_MESSAGES = 256  # sessions whose last refusal waits to be shown on the page
COMPARISON_WIDTHS = ["12%", "24%", "11%", "22%", "10%", "11%", "10%"]
SEGMENT_WIDTHS = ["20%", "12%", "12%", "40%", "16%"]
PHONE_COMPARISON_WIDTHS = ["20%", "28%", "24%", "28%"]  # Model, Predicted action, Confidence, Top 3
PHONE_SEGMENT_WIDTHS = ["20%", "12%", "11%", "33%", "24%"]


def phone_column_widths(table: str, widths: list[str]) -> str:
    """CSS that gives the first columns of the Dataframe `#table` these widths, in its header and rows alike."""
    return "".join(f"#{table} [data-heading='{column}'], #{table} [data-col='{column}'] {{ "
                   f"flex: 0 0 {width} !important; width: {width} !important; min-width: {width} !important; "
                   f"max-width: {width} !important; }}\n"
                   for column, width in enumerate(widths))


CSS = f"""
#verdict {{ min-height: 3.5em; }}
#verdict .message {{ color: var(--error-text-color); font-weight: 600; }}
#comparison th *, #segments th * {{ word-break: keep-all; overflow-wrap: normal; }}
@media (max-width: 640px) {{
    /* A phone shows the columns that matter most, in widths that add up to the screen's. */
    #comparison .header-table, #segments .header-table {{ table-layout: fixed; width: 100% !important; }}
    #comparison .virtual-row, #segments .virtual-row {{ width: 100% !important; }}
    #comparison .header-cell, #comparison .body-cell, #segments .header-cell, #segments .body-cell {{
        font-family: var(--font); font-size: 11px; }}
    #comparison .cell-wrap, #segments .cell-wrap {{ padding: 3px !important; }}
    #comparison .cell-menu-button, #segments .cell-menu-button {{ display: none; }}
    #comparison .body-cell *, #segments .body-cell * {{ overflow-wrap: anywhere; }}
    #comparison [data-heading="4"], #comparison [data-heading="5"], #comparison [data-heading="6"],
    #comparison [data-col="4"], #comparison [data-col="5"], #comparison [data-col="6"] {{ display: none; }}
    {phone_column_widths("comparison", PHONE_COMPARISON_WIDTHS)}
    {phone_column_widths("segments", PHONE_SEGMENT_WIDTHS)}
}}
"""

log = logging.getLogger("action_lens")


def remove_old_outputs() -> None:
    """Delete request folders older than `KEEP_OUTPUTS_S`, and the empty files Gradio leaves behind.

    Gradio 6's `gr.File` creates an empty named temporary file for every upload
    it passes on, directly in its upload folder, and never deletes it.
    """
    cutoff = time.time() - KEEP_OUTPUTS_S
    for folder in WORK_DIR.iterdir() if WORK_DIR.is_dir() else ():
        with contextlib.suppress(FileNotFoundError):  # another request got there first
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
    for leftover in GRADIO_UPLOADS.glob("tmp*") if GRADIO_UPLOADS.is_dir() else ():
        with contextlib.suppress(FileNotFoundError):
            info = leftover.stat()
            if leftover.is_file() and info.st_size == 0 and info.st_mtime < cutoff:
                leftover.unlink()


def request_folder() -> Path:
    """A fresh folder for one request's files; old folders go first.

    Gradio copies what a request returns into its own cache (which `delete_cache`
    empties), so ours only has to outlive the response.
    """
    remove_old_outputs()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=WORK_DIR))


def keep_removing_old_outputs() -> None:
    """Sweep old request folders in the background too, so a server that falls idle doesn't keep them."""

    def sweep() -> None:
        while True:
            time.sleep(SWEEP_EVERY_S)
            remove_old_outputs()

    threading.Thread(target=sweep, name="remove-old-outputs", daemon=True).start()


def example_clips(folder: Path) -> list[Path]:
    """The video files in `folder`, by name; each one's label is its name without the suffix."""
    if not folder.is_dir():
        return []
    return [path for path in sorted(folder.iterdir()) if path.suffix.lower() in VIDEO_SUFFIXES]


def user_error(message: str) -> gr.Error:
    """The error pop-up; its text is rendered as HTML, and file names are the user's."""
    return gr.Error(html.escape(message), print_exception=False)


def scaled(progress: gr.Progress, start: float, end: float, deadline: Deadline) -> Callable[[float, str], None]:
    """A `recognition` progress callback that fills [start, end] of Gradio's bar, and stops work past the deadline."""

    def report(fraction: float, message: str) -> None:
        deadline.check()
        progress(start + fraction * (end - start), desc=message)

    return report


@contextlib.contextmanager
def failures_as_sentences(action: str) -> Iterator[None]:
    """Turn any failure into a `gr.Error` sentence; unexpected ones are logged with their traceback."""
    try:
        yield
    except VideoError as error:
        raise user_error(str(error)) from error
    except Exception as error:
        log.exception("%s failed", action)
        raise user_error(f"Something went wrong while {action}. Try another video; if it keeps happening, "
                         "the server log has the details.") from error


class ActionLens:
    """The page's behaviour: one `Recognizer`, loaded in the background and shared by every request."""

    def __init__(self, models: ModelLoader, limits: Limits):
        self.models = models
        self.limits = limits
        self.messages: collections.OrderedDict[str, str] = collections.OrderedDict()
        self.line = WorkQueue(limits.max_request_seconds)

    @contextlib.contextmanager
    def remembering_refusals(self, request: gr.Request | None) -> Iterator[None]:
        """Keep a refusal's sentence for `last_message`, which puts it on the page once the toast has gone."""
        try:
            yield
        except gr.Error as error:
            if request is not None and request.session_hash:
                self.messages[request.session_hash] = error.message
                while len(self.messages) > KEPT_MESSAGES:
                    self.messages.popitem(last=False)
            raise

    def last_message(self, request: gr.Request) -> str:
        """The sentence of this session's last refusal, for the message area."""
        message = self.messages.pop(request.session_hash, "Something went wrong: try again.")
        return f'<p class="message">{message}</p>'

    def refused(self, request: gr.Request) -> tuple[str, gr.Button]:
        """After a refused recognition: its sentence in the message area, and the button ready again."""
        return self.last_message(request), gr.Button("Recognize", interactive=True)

    def preview(self, video_file: str | None, request: gr.Request | None = None) -> str | None:
        """A browser-playable copy of the upload (browsers can't play AVI or MKV); caps are checked first."""
        if not video_file:
            return None
        with self.remembering_refusals(request), failures_as_sentences("preparing the preview"):
            self.limits.check_file(video_file)
            return str(browser_playable_copy(video_file, request_folder() / "preview.mp4"))

    def recognize(self, video_file: str | None, video_url: str | None, webcam_video: str | None = None,
                  request: gr.Request | None = None, progress=gr.Progress()):
        """Recognize the action in an uploaded video file, a video link or a webcam recording, with both models."""
        with self.remembering_refusals(request):
            return self._recognize(video_file, video_url, webcam_video, progress)

    def _recognize(self, video_file: str | None, video_url: str | None, webcam_video: str | None,
                   progress: gr.Progress) -> tuple:
        video_url = (video_url or "").strip()
        if sum(map(bool, (video_file, video_url, webcam_video))) > 1:
            raise user_error("Give one video at a time (a file, a link or a webcam recording): clear the others.")
        if not video_file and not video_url and not webcam_video:
            raise user_error("Upload a video file, paste a link to one or record one with your webcam first.")
        video_file = video_file or webcam_video
        with failures_as_sentences("recognizing this video"):
            if video_file:
                info = self.limits.check_file(video_file)
                recognition = self._run(video_file, info.duration_s, progress, 0.0)
            else:
                self.line.check()
                with downloaded_video(video_url, self.limits,
                                      scaled(progress, 0.0, DOWNLOAD_SHARE, self.limits.deadline())) as path:
                    recognition = self._run(path, probe(path).duration_s, progress, DOWNLOAD_SHARE)
        return self._outputs(recognition)

    def _run(self, video: str | os.PathLike, seconds: float, progress: gr.Progress, start: float) -> Recognition:
        """Wait for the video's turn (or be turned away at once when the wait is too long), then recognize it."""
        with self.line.turn(seconds, lambda ahead, wait_s: progress(start, desc=describe_wait(ahead, wait_s))):
            on_progress = scaled(progress, start, 1.0, self.limits.deadline())
            recognizer = self.models.wait(on_wait=lambda message: on_progress(0.0, message))
            return recognizer.recognize(video, output_dir=request_folder(), progress=on_progress)

    @staticmethod
    def _outputs(recognition: Recognition) -> tuple:
        lrcn, convlstm = recognition.models["lrcn"], recognition.models["convlstm"]
        return (
            str(lrcn.annotated_video),
            str(convlstm.annotated_video),
            report.verdict(recognition),
            report.comparison_rows(recognition),
            report.timeline_figure(lrcn, recognition.duration_s),
            report.timeline_figure(convlstm, recognition.duration_s),
            report.segment_rows(recognition),
        )


def model_texts(models: ModelLoader) -> tuple[str, str]:
    """How to read the answers, and *About the models*, from the models' metadata (read before they load)."""
    try:
        specs = models.specs
        return report.how_to_read(specs), report.about_models(specs)
    except (OSError, ValueError, KeyError):
        log.exception("reading the models' metadata failed")
        return "", "The models' descriptions could not be read from the server's weights folder."


def build_app(models: ModelLoader, limits: Limits, examples_dir: Path = EXAMPLES_DIR) -> gr.Blocks:
    lens = ActionLens(models, limits)
    caps = f"up to {describe_seconds(limits.max_seconds)} and {limits.max_bytes / 1e6:.0f} MB"
    with gr.Blocks(title="Action Lens", delete_cache=(SWEEP_EVERY_S, int(KEEP_OUTPUTS_S))) as demo:
        gr.Markdown("# Action Lens\nWhich exercise or sport is in this video? Two models answer side by side: "
                    f"an LRCN and a ConvLSTM. Videos {caps}.")
        with gr.Row():
            with gr.Column():
                video_file = gr.File(label="Video file (drop it here: MP4, AVI, MKV, MOV, WebM...)",
                                     file_types=list(VIDEO_SUFFIXES), elem_id="video-file")
                video_url = gr.Textbox(label="...or a link to a video", elem_id="video-url",
                                       placeholder="https://... (YouTube, Vimeo, a direct .mp4 link, ...)")
                webcam_video = gr.Video(label="...or record a few seconds with your webcam", sources=["webcam"],
                                        include_audio=True, height=240, elem_id="webcam",
                                        webcam_options=gr.WebcamOptions(mirror=False, constraints=WEBCAM))
                recognize_button = gr.Button("Recognize", variant="primary", elem_id="recognize")
            preview = gr.Video(label="Your video", interactive=False, height=300, elem_id="preview")
        if examples := example_clips(examples_dir):
            gr.Examples([[str(path)] for path in examples], inputs=[video_file], label="Examples",
                        example_labels=[path.stem for path in examples], elem_id="examples")

        verdict = gr.Markdown(elem_id="verdict")
        with gr.Row(equal_height=True):
            with gr.Column(min_width=280):
                lrcn_video = gr.Video(label="LRCN", show_label=False, interactive=False, elem_id="lrcn-video")
                lrcn_plot = gr.Plot(label="LRCN timeline", show_label=False, elem_id="lrcn-plot")
            with gr.Column(min_width=280):
                convlstm_video = gr.Video(label="ConvLSTM", show_label=False, interactive=False,
                                          elem_id="convlstm-video")
                convlstm_plot = gr.Plot(label="ConvLSTM timeline", show_label=False, elem_id="convlstm-plot")
        how_to_read, about = model_texts(models)
        gr.Markdown(how_to_read, elem_id="how-to-read")
        table = gr.Dataframe(headers=report.TABLE_HEADERS, label="Comparison", interactive=False, wrap=True,
                             column_widths=COMPARISON_WIDTHS, elem_id="comparison")
        segments = gr.Dataframe(headers=report.SEGMENT_HEADERS, label="Segments", interactive=False, wrap=True,
                                column_widths=SEGMENT_WIDTHS, elem_id="segments")
        with gr.Accordion("About the models", open=False):
            gr.Markdown(about)

        video_file.change(lens.preview, video_file, preview, api_visibility="private", show_progress_on=preview
                          ).failure(lens.last_message, None, verdict, queue=False, api_visibility="private")
        outputs = [lrcn_video, convlstm_video, verdict, table, lrcn_plot, convlstm_plot, segments]
        running = recognize_button.click(
            lambda: (gr.Button("Recognizing...", interactive=False), ""), None, [recognize_button, verdict],
            queue=False, api_visibility="private",
        ).then(lens.recognize, [video_file, video_url, webcam_video], outputs, api_name="recognize",
               show_progress_on=verdict, concurrency_limit=QUEUE_SIZE)
        running.success(lambda: gr.Button("Recognize", interactive=True), None, recognize_button, queue=False,
                        api_visibility="private")
        running.failure(lens.refused, None, [verdict, recognize_button], queue=False, api_visibility="private")
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    limits = Limits.from_env()
    models = ModelLoader(WEIGHTS_DIR)
    demo = build_app(models, limits)
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    keep_removing_old_outputs()
    demo.launch(max_file_size=limits.max_bytes, css=CSS, prevent_thread_lock=True)
    models.start()  # once the page is served: importing TensorFlow alongside would slow the launch down
    demo.block_thread()


if __name__ == "__main__":
    main()
