"""Training: the loop, checkpoints, metrics and pictures behind ``hybridgrad train``.

Example:
    >>> from hybridgrad.training import Trainer, save_checkpoint, load_checkpoint
    >>> Trainer.__name__
    'Trainer'
"""

from hybridgrad.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from hybridgrad.training.data import (
    DatasetNotFoundError,
    load_mnist,
    make_loader,
    mnist_source,
    normalize,
)
from hybridgrad.training.plots import image_grid, plot_curves, read_metrics, save_image_grid
from hybridgrad.training.tasks import TASKS, CGANTask, ClassifierTask, VAETask, judge_accuracy
from hybridgrad.training.trainer import (
    CHECKPOINT_NAME,
    METRICS_NAME,
    Trainer,
    WrongCheckpointError,
    build_from_checkpoint,
    describe,
    load_judge,
)

__all__ = ["CHECKPOINT_NAME", "CGANTask", "CheckpointError", "ClassifierTask",
           "DatasetNotFoundError", "METRICS_NAME", "TASKS", "Trainer", "VAETask",
           "WrongCheckpointError", "build_from_checkpoint", "describe", "image_grid",
           "judge_accuracy", "load_checkpoint", "load_judge", "load_mnist", "make_loader",
           "mnist_source",
           "normalize", "plot_curves", "read_metrics", "save_checkpoint", "save_image_grid"]
