"""The compiled executor's runtime kernels: fused elementwise programs and GEMM epilogues.

:func:`run_fused` runs a ``fused`` node's program (NumPy ufunc calls with ``out=``, one per
operator of the chain, the ufuncs being each operator's ``ufunc`` fact) a block of rows at a
time into its result, with block-sized scratch registers; a ``fused_matmul`` node computes its
matrix product a block of rows at a time too and consumes it at once (or, for an accumulation
such as a momentum update, lets one GEMM call accumulate into the result through SciPy's BLAS).
:data:`FUSED` and :data:`FUSED_MATMUL` are the compiler's own operators that
:func:`hybridgrad.symbolic.passes.elementwise_fusion` and ``matmul_epilogue_fusion`` create.

Example:
    >>> import numpy as np
    >>> out = np.empty(3)
    >>> program = (("mul", (0, 1), 0), ("exp", (-1,), 0))  # exp(x * 2)
    >>> run_fused(out, [np.zeros(3), np.float64(2.0)], program)
    array([1., 1., 1.])
"""

from __future__ import annotations

import functools

import numpy as np

from hybridgrad.ops.registry import ELEMENTWISE, REGISTRY, OpDef, Spec


def _run_program(registers: list, externals: list, program: tuple) -> np.ndarray:
    """Run fused steps; register 0 is the result, the others scratch of the same shape."""
    for name, refs, dest in program:
        arrays = [registers[-ref - 1] if ref < 0 else externals[ref] for ref in refs]
        REGISTRY[name].ufunc(registers[dest], *arrays)
    return registers[0]


BLOCK_ELEMENTS = 1 << 16         # elementwise blocks: few ufunc calls, still cache-sized
MATMUL_BLOCK_ELEMENTS = 1 << 15  # matmul-epilogue blocks (their scratch is held per call)
# OpenBLAS packs the whole right operand on every call, so thin row blocks pay that packing
# many times: 41-row blocks of a (512, 256) @ (256, 784) weight gradient took 2.28 ms against
# 1.71 ms in 128-row blocks and 1.52 ms in one call.
MATMUL_MIN_ROWS = 128
# Stands for the not-yet-computed product (operand 0 of a matmul epilogue) in alias checks:
# empty, so it never counts as sharing memory with the result.
_NO_ARRAY = np.empty(0)


def _row_blocks(out: np.ndarray, externals: list) -> tuple[int, list] | None:
    """Rows per block and which operands to slice by rows (None: no row blocking)."""
    if out.ndim == 0 or out.size <= BLOCK_ELEMENTS:
        return None
    rows = out.shape[0]
    sliced = []
    for array in externals:
        lead = array.ndim == out.ndim and array.shape[0] == rows and rows > 1
        if not lead and array.ndim == out.ndim and array.shape[0] != 1:
            return None
        sliced.append(lead)
    return max(1, BLOCK_ELEMENTS // max(1, out.size // rows)), sliced


@functools.lru_cache(maxsize=1024)
def _accumulate_form(program: tuple) -> tuple | None:
    """``(readings, product_scale)`` when the program computes ``x * x_scale + product *
    product_scale`` (terms in either order), the product being external 0: the form of an
    optimizer state fed a weight gradient, ``buf = buf * momentum + (g.T @ x) * (1 -
    dampening)``. ``readings`` are the possible ``(x, x_scale)`` external indices (``x_scale``
    None for 1; a product of two externals reads either way round, which the caller settles by
    their sizes); ``product_scale`` an external index or None. None for any other program.

    Example:
        >>> _accumulate_form((("mul", (1, 2), 0), ("mul", (0, 3), 1), ("add", (-1, -2), 0)))
        (((1, 2), (2, 1)), 3)
        >>> _accumulate_form((("add", (1, 0), 0),)), _accumulate_form((("sub", (1, 0), 0),))
        ((((1, None),), None), None)
    """
    registers: dict = {}
    for name, refs, dest in program:
        if name not in ("add", "mul") or len(refs) != 2:
            return None
        operands = [registers.get(-ref - 1) if ref < 0 else ("external", ref) for ref in refs]
        if any(operand is None for operand in operands):
            return None
        registers[dest] = (name, *operands)
    result = registers.get(0)
    if result is None or result[0] != "add":
        return None

    def readings(expression):
        if expression[0] == "external":
            return [(expression[1], None)]
        if expression[0] == "mul" and all(e[0] == "external" for e in expression[1:]):
            first, second = expression[1][1], expression[2][1]
            return [(first, second), (second, first)]
        return []

    for product_term, x_term in ((result[1], result[2]), (result[2], result[1])):
        products = [r for r in readings(product_term) if r[0] == 0 and r[1] != 0]
        xs = tuple(r for r in readings(x_term) if 0 not in r)
        if products and xs:
            return xs, products[0][1]
    return None


@functools.lru_cache(maxsize=1)
def _scipy_blas():
    """SciPy's BLAS wrappers, or None: only they expose GEMM's ``beta`` (``C = alpha * A @ B +
    beta * C`` in one call), which NumPy's matmul does not."""
    try:
        from scipy.linalg import blas
    except ImportError:
        return None
    from hybridgrad import threads

    threads.reapply()  # (SciPy brings its own OpenBLAS: hg.set_num_threads must reach it too)
    return blas


def _scalar(array) -> float | None:
    return float(array.reshape(-1)[0]) if array.size == 1 else None


def _accumulate_in_place(out, externals, program, matmul) -> np.ndarray | None:
    """``out = out * beta + (a @ b) * alpha`` as one GEMM call writing ``out`` in place, when
    the program has that form and SciPy's BLAS is there; None otherwise (the caller's general
    path then runs). Row blocks of the product fed to the update would cost 10% more on this
    OpenBLAS (``benchmarks/gemm_blocks.py``) and a whole product as much memory as ``out``."""
    form = _accumulate_form(program)
    if form is None or out.ndim != 2 or not out.flags.c_contiguous or out.size == 0 \
            or out.dtype not in (np.float32, np.float64):
        return None
    readings, product_scale = form
    operands = [None] + list(externals)
    chosen = [(x, scale) for x, scale in readings
              if operands[x].dtype == out.dtype and _same_memory(operands[x], out)
              and (scale is None or operands[scale].size == 1)]
    if not chosen:
        return None
    x, x_scale = chosen[0]
    beta = 1.0 if x_scale is None else _scalar(operands[x_scale])
    alpha = 1.0 if product_scale is None else _scalar(operands[product_scale])
    # (BLAS skips a term whose factor is 0 where NumPy would propagate a NaN through it)
    if alpha is None or beta is None or alpha == 0 or beta == 0:
        return None
    a, b = matmul
    if a.ndim != 2 or b.ndim != 2 or a.dtype != out.dtype or b.dtype != out.dtype \
            or np.may_share_memory(a, out) or np.may_share_memory(b, out):
        return None
    blas = _scipy_blas()
    if blas is None:
        return None
    # BLAS is column-major: out.T (Fortran-ordered) = b.T @ a.T, each operand passed as is
    # with a transpose flag, so nothing is copied.
    left, left_transposed = (b.T, 0) if b.flags.c_contiguous else (b, 1)
    right, right_transposed = (a.T, 0) if a.flags.c_contiguous else (a, 1)
    if not (left.flags.f_contiguous and right.flags.f_contiguous):
        return None
    gemm = blas.get_blas_funcs("gemm", dtype=out.dtype)
    result = gemm(alpha, left, right, beta=beta, c=out.T, trans_a=left_transposed,
                  trans_b=right_transposed, overwrite_c=True)
    if not np.shares_memory(result, out):   # (a wrapper that copied after all)
        np.copyto(out, result.T)
    return out


def run_fused(out: np.ndarray, externals: list, program: tuple, registers: int = 1,
              matmul: tuple | None = None) -> np.ndarray:
    """Run a fused elementwise program into ``out``, block of rows by block of rows, so that
    intermediates stay in the CPU cache (operands spanning all rows are sliced; broadcast ones,
    such as a bias, are passed whole). Extra registers are block-sized scratch arrays.

    With ``matmul=(a, b)`` the program's external 0 is ``a @ b``, computed one block of rows at
    a time (a matmul epilogue): the product is never materialised in full.

    ``out`` may be the memory of an input (the memory planner's in-place execution): each block
    is then computed in scratch first, unless ``out`` is exactly an input that no step reads
    after the first write to ``out``."""
    if matmul is not None and out.size > MATMUL_BLOCK_ELEMENTS:
        done = _accumulate_in_place(out, externals, program, matmul)
        if done is not None:
            return done
    if matmul is not None and any(np.may_share_memory(m, out) for m in matmul):
        # The product reads whole rows/columns of its operands: with ``out`` overlapping one
        # of them, compute it in full before anything is written.
        return run_fused(out, [np.matmul(*matmul)] + list(externals), program, registers)
    if any(a.size > 1 and np.may_share_memory(a, out) and not _same_memory(a, out)
           for a in externals):
        # An input overlapping the result other than element for element (a transposed view
        # of it, say): blocks would read what earlier blocks wrote. Compute aside, then copy.
        np.copyto(out, run_fused(np.empty_like(out), externals, program, registers, matmul))
        return out
    operands = list(externals) if matmul is None else [None] + list(externals)
    # (a one-element operand matters only when the result is one element too: the planner may
    # then give the result an input's buffer, as for an optimizer's step-count arithmetic)
    overlapping = any(a is not None and (a.size > 1 or out.size == 1)
                      and np.may_share_memory(a, out)
                      for a in operands)
    aliased = overlapping
    if aliased and _exact_early_alias(out, [_NO_ARRAY if a is None else a for a in operands],
                                      program):
        # (an optimizer state updated in place, ``buf = buf * momentum + grad``: each block
        # reads its rows of the old value before writing them, so no scratch copy is needed)
        aliased = False
    # The product can be written straight into the result when no operand shares its memory
    # (writing the product there would clobber that operand before the program reads it, even
    # an exact in-place alias) and the program reads the product only until its first write.
    into_out = matmul is not None and not overlapping and _reads_early(program, 0)
    if into_out:  # one product call (BLAS packs the right operand once), then the epilogue
        product = np.matmul(matmul[0], matmul[1], out=out)
        operands = [product] + list(externals)
        if out.ndim == 0 or out.size <= BLOCK_ELEMENTS:
            # (What the call below would conclude: nothing else aliases ``out`` and the product,
            # exactly ``out``, is read only before the first write; skip its checks, which
            # cost as much as a small product.)
            _run_program([out] + [np.empty_like(out) for _ in range(registers - 1)], operands,
                         program)
            return out
        return run_fused(out, operands, program, registers)
    blocking = None
    if matmul is not None and out.ndim == 2 and out.size > MATMUL_BLOCK_ELEMENTS:
        rows = out.shape[0]
        sliced = [True] + [a.ndim == 2 and a.shape[0] == rows and rows > 1 for a in externals]
        if all(a.ndim < 2 or a.shape[0] in (1, rows) for a in externals):
            blocking = (max(MATMUL_MIN_ROWS, MATMUL_BLOCK_ELEMENTS // max(1, out.shape[1])),
                        sliced)
    elif matmul is None:
        blocking = _row_blocks(out, operands)
    if blocking is None:
        if matmul is not None:
            operands[0] = np.matmul(*matmul, out=out) if into_out else np.matmul(*matmul)
        target = np.empty_like(out) if aliased else out
        scratch = [target] + [np.empty_like(out) for _ in range(registers - 1)]
        _run_program(scratch, operands, program)
        if aliased:
            np.copyto(out, target)
        return out
    step, sliced = blocking
    rows = out.shape[0]
    step = min(step, rows)
    shape = (step,) + out.shape[1:]
    scratch = [np.empty(shape, dtype=out.dtype) for _ in range(registers - 1 + aliased)]
    product = (np.empty(shape, dtype=out.dtype) if matmul is not None and not into_out
               else None)
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        count = stop - start
        blocks = [a[start:stop] if cut and a is not None else a
                  for a, cut in zip(operands, sliced)]
        if matmul is not None:
            target = out[start:stop] if into_out else product[:count]
            blocks[0] = np.matmul(matmul[0][start:stop], matmul[1], out=target)
        first = scratch[-1][:count] if aliased else out[start:stop]
        regs = [first] + [s[:count] for s in scratch[:registers - 1]]
        _run_program(regs, blocks, program)
        if aliased:
            out[start:stop] = first
    return out


def _same_memory(array: np.ndarray, out: np.ndarray) -> bool:
    """Whether ``array`` is element for element the memory of ``out`` (a broadcast operand of
    fewer dimensions never is: it is read whole by every block)."""
    return (array.shape == out.shape and array.strides == out.strides
            and array.__array_interface__["data"][0] == out.__array_interface__["data"][0])


@functools.lru_cache(maxsize=1024)
def _reads_early(program: tuple, external: int) -> bool:
    """Whether ``external`` is read only up to the first step writing the result (a property
    of the static program: cached, since every call of a fused kernel asks it again)."""
    first_write = next(i for i, (_, _, dest) in enumerate(program) if dest == 0)
    return all(i <= first_write for i, (_, refs, _) in enumerate(program) if external in refs)


def _exact_early_alias(out, externals, program) -> bool:
    """True when every input sharing memory with ``out`` is exactly ``out`` and is read only
    up to the first step that writes ``out``."""
    return all(_same_memory(array, out) and _reads_early(program, index)
               for index, array in enumerate(externals)
               if (array.size > 1 or out.size == 1) and np.may_share_memory(array, out))


def _fused_forward(xp, *arrays, program, names, shape, dtype, registers=1):
    out = np.empty(shape, dtype=dtype)
    return run_fused(out, list(arrays), program, registers)


def _fused_matmul_forward(xp, a, b, *arrays, program, names, shape, dtype, registers=1):
    out = np.empty(shape, dtype=dtype)
    return run_fused(out, list(arrays), program, registers, matmul=(a, b))


def _fused_shape(*specs, shape, dtype, **_attrs):
    return Spec(tuple(shape), dtype)


def _fused_kernel(program, names, shape, dtype, registers=1):
    return lambda out, *arrays: run_fused(out, list(arrays), program, registers)


def _fused_matmul_kernel(program, names, shape, dtype, registers=1):
    return lambda out, a, b, *arrays: run_fused(out, list(arrays), program, registers,
                                                matmul=(a, b))


def _fused_matmul_rows(batched, shapes, rows, shape, **_attrs):
    # The product's rows come from its first operand's rows (the second is a weight); the
    # elementwise operands broadcast like any elementwise operator's.
    if list(batched[:2]) != [True, False]:
        return False
    for child, flag in zip(shapes[2:], batched[2:]):
        if (flag and tuple(child[:1]) != (rows,)) or (not flag and len(child) == len(shape)
                                                       and child[0] != 1):
            return False
    return True


# The compiler's own operators (not registry primitives: they exist only in optimised graphs).
FUSED = OpDef(name="fused", forward=_fused_forward, shape=_fused_shape, formula="fused({a})",
              aliasing="fresh", out_kernel=_fused_kernel, inplace=slice(None), rows=ELEMENTWISE,
              why_not={"ufunc": "a program of ufunc steps, held in its attributes"})
# (not the matmul operands in place: whole rows and columns of them are read per block)
FUSED_MATMUL = OpDef(name="fused_matmul", forward=_fused_matmul_forward, shape=_fused_shape,
                     formula="fused(matmul({a}, {b}), ...)", aliasing="fresh",
                     out_kernel=_fused_matmul_kernel, inplace=slice(2, None),
                     rows=_fused_matmul_rows)
