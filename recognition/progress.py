"""Progress reporting: long steps call `progress(fraction, message)` as they go."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]
"""Called with the fraction done (0 to 1) and what is happening, in words for the user."""


def no_progress(fraction: float, message: str) -> None:
    """Default progress callback: stay quiet."""
