"""Optimizers and learning-rate schedulers with PyTorch's names and update formulas.

Each optimizer writes its update once (:meth:`Optimizer.update`, see
:mod:`hybridgrad.optim.rule`): eager ``step()`` runs it on tensors and
:func:`hybridgrad.jit.train_step` compiles it (LBFGS, which needs a closure, runs eagerly only).

Example:
    >>> import hybridgrad as hg
    >>> model = hg.nn.Linear(2, 1)
    >>> optimizer = hg.optim.AdamW(model.parameters(), lr=1e-2)
    >>> scheduler = hg.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    >>> scheduler.get_last_lr()
    [0.01]
"""

from hybridgrad.optim import lr_scheduler
from hybridgrad.optim.adam import Adam, AdamW
from hybridgrad.optim.adaptive import Adadelta, Adagrad, Adamax
from hybridgrad.optim.asgd import ASGD
from hybridgrad.optim.lbfgs import LBFGS
from hybridgrad.optim.nadam import NAdam, RAdam
from hybridgrad.optim.optimizer import Optimizer
from hybridgrad.optim.rmsprop import RMSprop
from hybridgrad.optim.rprop import Rprop
from hybridgrad.optim.sgd import SGD

__all__ = ["ASGD", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "NAdam",
           "Optimizer", "RAdam", "RMSprop", "Rprop", "lr_scheduler"]
