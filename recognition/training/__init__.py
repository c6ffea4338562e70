"""What only training uses: the training loop, its configuration, UCF-style datasets, the frame cache and
augmentation. The app never imports this package.

    from recognition.training import TrainConfig, train

    train(TrainConfig("lrcn", "../shared/data/ucf14"))   # the shipped LRCN recipe
"""

from recognition.training.config import TrainConfig

__all__ = ["TrainConfig", "train"]


def __getattr__(name: str):
    """`train` is imported when asked for: it brings TensorFlow, which the command line's other commands don't need."""
    if name == "train":
        from recognition.training.loop import train

        return train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
