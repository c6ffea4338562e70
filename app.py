"""Action Lens: drop in a video or paste a link, and two models say which action it shows.

    python app.py        # serves http://127.0.0.1:7860

Serving follows GRADIO_SERVER_NAME and GRADIO_SERVER_PORT. ACTION_LENS_WEIGHTS
names the folder of trained models (default `weights/`), loaded in the background
while the page is already served; ACTION_LENS_EXAMPLES a folder of example clips
(default `examples/`, each labelled by its file name), ACTION_LENS_QUEUE_SIZE the number
of requests that may wait (default 16) and ACTION_LENS_KEEP_OUTPUTS_S how long
result files are kept (default 3600). The caps on each video are in
`recognition/limits.py`. This file is the page and nothing else: the models,
the downloads and the explanations live in `recognition/`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

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
from recognition.download import downloaded_video
from recognition.limits import Deadline, Limits, describe_seconds
from recognition.loader import ModelLoader
from recognition.metadata import WEIGHTS_DIR as SHIPPED_WEIGHTS
from recognition.preview import browser_playable_copy
from recognition.video import VIDEO_SUFFIXES

ROOT = Path(__file__).resolve().parent
WEIGHTS_DIR = Path(os.environ.get("ACTION_LENS_WEIGHTS", SHIPPED_WEIGHTS))
EXAMPLES_DIR = Path(os.environ.get("ACTION_LENS_EXAMPLES", ROOT / "examples"))
WORK_DIR = Path(tempfile.gettempdir()) / "action-lens"
GRADIO_UPLOADS = Path(gr.utils.get_upload_folder())
KEEP_OUTPUTS_S = float(os.environ.get("ACTION_LENS_KEEP_OUTPUTS_S", 3600))
SWEEP_EVERY_S = max(1, int(min(KEEP_OUTPUTS_S, 600) / 2))
DOWNLOAD_SHARE = 0.2  # of the progress bar, when the video comes from a link
QUEUE_SIZE = int(os.environ.get("ACTION_LENS_QUEUE_SIZE", 16))
# Webcam recordings: a modest resolution, and no microphone (the models need no sound, so no
# extra permission). The component keeps the recording as it comes (include_audio=True, not
# mirrored): stripping sound or mirroring back would need an ffmpeg on PATH, and there is none.
WEBCAM = {"audio": False, "video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}

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

    def preview(self, video_file: str | None) -> str | None:
        """A browser-playable copy of the upload (browsers can't play AVI or MKV); caps are checked first."""
        if not video_file:
            return None
        with failures_as_sentences("preparing the preview"):
            self.limits.check_file(video_file)
            return str(browser_playable_copy(video_file, request_folder() / "preview.mp4"))

    def recognize(self, video_file: str | None, video_url: str | None, webcam_video: str | None = None,
                  progress=gr.Progress()):
        """Recognize the action in an uploaded video file, a video link or a webcam recording, with both models."""
        video_url = (video_url or "").strip()
        if sum(map(bool, (video_file, video_url, webcam_video))) > 1:
            raise user_error("Give one video at a time (a file, a link or a webcam recording): clear the others.")
        if not video_file and not video_url and not webcam_video:
            raise user_error("Upload a video file, paste a link to one or record one with your webcam first.")
        video_file = video_file or webcam_video
        deadline = self.limits.deadline()
        with failures_as_sentences("recognizing this video"):
            if video_file:
                self.limits.check_file(video_file)
                recognition = self._run(video_file, scaled(progress, 0.0, 1.0, deadline))
            else:
                with downloaded_video(video_url, self.limits,
                                      scaled(progress, 0.0, DOWNLOAD_SHARE, deadline)) as path:
                    recognition = self._run(path, scaled(progress, DOWNLOAD_SHARE, 1.0, deadline))
        return self._outputs(recognition)

    def _run(self, video: str | os.PathLike, progress: Callable[[float, str], None]) -> Recognition:
        recognizer = self.models.wait(on_wait=lambda message: progress(0.0, message))
        return recognizer.recognize(video, output_dir=request_folder(), progress=progress)

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
        )


def about_models(models: ModelLoader) -> str:
    try:
        return report.about_models(models.specs)
    except (OSError, ValueError, KeyError):
        log.exception("reading the models' metadata failed")
        return "The models' descriptions could not be read from the server's weights folder."


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
            with gr.Column():
                lrcn_video = gr.Video(label="LRCN", interactive=False, elem_id="lrcn-video")
                lrcn_plot = gr.Plot(label="LRCN timeline", show_label=False, elem_id="lrcn-plot")
            with gr.Column():
                convlstm_video = gr.Video(label="ConvLSTM", interactive=False, elem_id="convlstm-video")
                convlstm_plot = gr.Plot(label="ConvLSTM timeline", show_label=False, elem_id="convlstm-plot")
        table = gr.Dataframe(headers=report.TABLE_HEADERS, label="Comparison", interactive=False, wrap=True,
                             elem_id="comparison")
        with gr.Accordion("About the models", open=False):
            gr.Markdown(about_models(models))

        video_file.change(lens.preview, video_file, preview, api_visibility="private")
        recognize_button.click(
            lens.recognize, [video_file, video_url, webcam_video],
            [lrcn_video, convlstm_video, verdict, table, lrcn_plot, convlstm_plot],
            api_name="recognize",
        )
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    limits = Limits.from_env()
    models = ModelLoader(WEIGHTS_DIR)
    demo = build_app(models, limits)
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    keep_removing_old_outputs()
    demo.launch(max_file_size=limits.max_bytes, prevent_thread_lock=True)
    models.start()  # once the page is served: importing TensorFlow alongside would slow the launch down
    demo.block_thread()


if __name__ == "__main__":
    main()
