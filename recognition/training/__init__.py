"""What only training uses: the training loop, its configuration, UCF-style datasets, the frame cache and
augmentation. The app never imports this package.

    from recognition.training import TrainConfig, train

    train(TrainConfig("lrcn", "../shared/data/ucf14"))   # the shipped LRCN recipe
"""

from recognition.training.config import TrainConfig
from recognition.training.loop import train

__all__ = ["TrainConfig", "train"]
