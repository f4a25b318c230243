"""Adam on a 0-d parameter (the in-place update keeps 0-d arrays; regression test)."""

from __future__ import annotations

import hybridgrad as hg


def test_adam_updates_a_scalar_parameter():
    p = hg.nn.Parameter(hg.tensor(1.5))
    optimizer = hg.optim.Adam([p], lr=0.1, amsgrad=True)
    for _ in range(3):
        optimizer.zero_grad()
        (p * p).backward()
        optimizer.step()
    # torch.optim.Adam(lr=0.1, amsgrad=True) gives 1.2009029388427734 for the same three steps
    # (each step moves the parameter by about lr while the gradient keeps its sign).
    assert abs(p.item() - 1.2009029388427734) < 1e-6
