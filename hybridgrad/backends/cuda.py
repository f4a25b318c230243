"""``torch.backends.cuda``: the TF32 and attention-kernel switches programs set
(``torch.backends.cuda.matmul.allow_tf32 = True``); without CUDA they change nothing.

Example:
    >>> matmul.allow_tf32 = True
    >>> is_built(), matmul.allow_tf32
    (False, True)
"""

from types import SimpleNamespace

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                         allow_bf16_reduced_precision_reduction=True)


def is_built() -> bool:
    """False: hybridgrad is not built with CUDA.

    Example:
        >>> is_built()
        False
    """
    return False
