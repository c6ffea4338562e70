"""Deploy the app to a Hugging Face Space: the files it runs on, and nothing else.

    hf auth login                     # or HF_TOKEN=hf_... in the environment
    python scripts/deploy_space.py USER/SPACE [--private]
    python scripts/deploy_space.py USER/SPACE --list    # only print what would be sent (no network)

The Space is created if it does not exist (Gradio SDK; the README's front matter
sets the versions). `upload_folder` sends binaries and large files through
LFS/Xet itself, so this works from a plain clone without git-lfs. Remote files
that match the patterns but are no longer here are deleted, so a renamed module
leaves nothing stale behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recognition.metadata import MODEL_NAMES  # noqa: E402  (after the path is set)

# What the Space runs: the page, the package, the shipped models, the example clips, and the
# README (its front matter configures the Space; it shows the screenshot).
ALLOW_PATTERNS = [
    "README.md",
    ".gitattributes",
    "requirements.txt",
    "packages.txt",  # apt packages, if any are ever needed (none are: imageio-ffmpeg ships ffmpeg)
    "app.py",
    "recognition/*.py",
    *(f"weights/{name}.{suffix}" for name in MODEL_NAMES for suffix in ("keras", "json", "familiarity.npz")),
    *(f"weights/{name}-*.{suffix}" for name in MODEL_NAMES for suffix in ("tflite", "stem-weights")),
    "weights/pose.npz", "weights/pose.json", "weights/pose_landmark_full.tflite", "weights/NOTICE",
    "examples/*.mp4",
    "examples/README.md",
    "docs/screenshot.png",
]
IGNORE_PATTERNS = ["*/__pycache__/*", "*.pyc", "recognition/training/*"]  # training is not served
DELETE_PATTERNS = ["*.py", "weights/*", "examples/*"]


def space_files(folder: Path = ROOT) -> list[str]:
    """The paths, relative to `folder`, that `upload_folder` sends with these patterns."""
    files = sorted(path.relative_to(folder).as_posix() for path in folder.glob("**/*") if path.is_file())
    return list(filter_repo_objects(files, allow_patterns=ALLOW_PATTERNS,
                                    ignore_patterns=IGNORE_PATTERNS + DEFAULT_IGNORE_PATTERNS))


def deploy(space: str, private: bool = False) -> str:
    """Create the Space if needed, upload the app, and return the commit's URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(space, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    commit = api.upload_folder(folder_path=ROOT, repo_id=space, repo_type="space", allow_patterns=ALLOW_PATTERNS,
                               ignore_patterns=IGNORE_PATTERNS, delete_patterns=DELETE_PATTERNS,
                               commit_message="Deploy Action Lens")
    return commit.commit_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("space", help="the Space's id, USER/NAME")
    parser.add_argument("--private", action="store_true", help="create the Space private")
    parser.add_argument("--list", action="store_true", help="print the files that would be sent, and stop")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(space_files()))
        return 0
    print(deploy(args.space, args.private))
    return 0


if __name__ == "__main__":
    sys.exit(main())
