"""Why the compiler trades time for memory on the MLP: matrix products in blocks of rows.

The memory planner meets the memory goals of ``benchmarks/symbolic.py`` by never holding a
whole-batch activation (inference: the batch runs in blocks of rows) and never materialising a
whole weight gradient (training: the product is fed block by block into the momentum update).
Both cut one BLAS call into several, and this OpenBLAS packs the right-hand operand again on
every call. This script measures exactly those products of the benchmark's 784-512-512-10 MLP at
batch 256, in NumPy alone (no hybridgrad), against the one-call product as reference:

* (b) inference: the network's three layers ``relu(x @ W.T + b)`` run on row blocks of 256,
  128, 85 and 64 rows, with the bytes that block size must hold (a layer's input block and its
  output block) against eager mode's peak in ``benchmarks/symbolic.py`` (1.53 MiB; the 0.25x goal
  is 0.38 MiB); and, for comparison, with contiguous copies of every ``W.T`` (what a weight
  stored in (in, out) layout would give: packed faster, but the copies are 2.6 MiB more);
* (c) training: the 784 x 512 layer's weight gradient feeding SGD momentum, ``buf = 0.9 * buf +
  dh.T @ x``, materialised in one product (a 1.53 MiB temporary) against row blocks of 128 rows
  into the buffer (0.38 MiB of scratch), as the compiler does without SciPy, and as one GEMM
  call with ``beta`` through SciPy's BLAS (no scratch), as it does with SciPy.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/gemm_blocks.py`` (``--repeat N``).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from timing import best_of

BATCH, SIZES = 256, (784, 512, 512, 10)
EAGER_INFERENCE_PEAK = 1.53 * 2**20  # benchmarks/symbolic.py, (b) batch 256, eager


def network(rng):
    weights = [(rng.standard_normal((out, inp)).astype(np.float32) * 0.03,
                np.zeros(out, np.float32)) for inp, out in zip(SIZES, SIZES[1:])]
    return rng.standard_normal((BATCH, SIZES[0])).astype(np.float32), weights


def inference_in_blocks(x, weights, rows: int, contiguous_transpose: bool = False):
    """The MLP on blocks of ``rows`` rows with two preallocated block buffers (what the split
    executor holds); returns the function and its bytes. ``contiguous_transpose``: multiply by
    a contiguous copy of each ``W.T`` (packed faster; the copies count as held bytes)."""
    copies = [np.ascontiguousarray(w.T) for w, _ in weights] if contiguous_transpose else None
    widest = max(SIZES[1:-1])
    buffers = [np.empty((rows, widest), np.float32) for _ in range(2)]
    result = np.empty((BATCH, SIZES[-1]), np.float32)

    def run():
        for start in range(0, BATCH, rows):
            stop = min(start + rows, BATCH)
            current = x[start:stop]
            for index, (weight, bias) in enumerate(weights):
                last = index == len(weights) - 1
                target = (result[start:stop] if last
                          else buffers[index % 2][:stop - start, :weight.shape[0]])
                np.matmul(current, weight.T if copies is None else copies[index], out=target)
                np.add(target, bias, out=target)
                if not last:
                    np.maximum(target, 0, out=target)
                current = target
        return result

    extra = 0 if copies is None else sum(c.nbytes for c in copies)
    return run, sum(b.nbytes for b in buffers) + result.nbytes + extra


def momentum_materialised(gradient_out, x, buffer):
    def run():
        gradient = np.matmul(gradient_out.T, x)          # the whole weight gradient
        np.multiply(buffer, 0.9, out=buffer)
        np.add(buffer, gradient, out=buffer)
    return run, buffer.nbytes                            # the temporary is as large as W


def momentum_in_row_blocks(gradient_out, x, buffer, rows: int):
    product = np.empty((rows, buffer.shape[1]), np.float32)

    def run():
        for start in range(0, buffer.shape[0], rows):
            block = buffer[start:start + rows]
            part = product[:len(block)]
            np.matmul(gradient_out.T[start:start + rows], x, out=part)
            np.multiply(block, 0.9, out=block)
            np.add(block, part, out=block)
    return run, product.nbytes


def momentum_one_gemm(gradient_out, x, buffer):
    """``buffer = 0.9 * buffer + dh.T @ x`` as one GEMM with beta (SciPy's BLAS, what the
    compiler uses when SciPy is installed); None without SciPy."""
    try:
        from scipy.linalg import blas
    except ImportError:
        return None, 0

    def run():
        # column-major view: buffer.T = x.T @ dh + 0.9 * buffer.T, nothing copied
        blas.sgemm(1.0, x.T, gradient_out.T, beta=0.9, c=buffer.T, trans_b=True,
                   overwrite_c=True)
    return run, 0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x, weights = network(rng)
    reference_output = inference_in_blocks(x, weights, BATCH)[0]().copy()
    rows_list = []
    for rows in (BATCH, 128, 85, 64):
        run, held = inference_in_blocks(x, weights, rows)
        np.testing.assert_allclose(run(), reference_output, rtol=1e-5, atol=1e-5)
        rows_list.append((f"(b) MLP inference, {rows}-row blocks", best_of(run, args.repeat),
                          held, held / EAGER_INFERENCE_PEAK))
    for rows in (128, 85):
        run, held = inference_in_blocks(x, weights, rows, contiguous_transpose=True)
        np.testing.assert_allclose(run(), reference_output, rtol=1e-5, atol=1e-5)
        rows_list.append((f"(b) {rows}-row blocks, W.T copied", best_of(run, args.repeat),
                          held, held / EAGER_INFERENCE_PEAK))
    gradient_out = rng.standard_normal((BATCH, SIZES[1])).astype(np.float32)
    start = rng.standard_normal((SIZES[1], SIZES[0])).astype(np.float32)
    buffers = [start.copy(), start.copy(), start.copy()]
    expected = start * np.float32(0.9) + gradient_out.T @ x
    whole, whole_bytes = momentum_materialised(gradient_out, x, buffers[0])
    blocked, blocked_bytes = momentum_in_row_blocks(gradient_out, x, buffers[1], 128)
    whole()
    blocked()
    np.testing.assert_allclose(buffers[1], expected, rtol=1e-4, atol=1e-3)
    rows_list.append(("(c) dW1 + momentum, materialised", best_of(whole, args.repeat),
                      whole_bytes, None))
    rows_list.append(("(c) dW1 + momentum, 128-row blocks", best_of(blocked, args.repeat),
                      blocked_bytes, None))
    gemm, gemm_bytes = momentum_one_gemm(gradient_out, x, buffers[2])
    if gemm is not None:
        gemm()
        np.testing.assert_allclose(buffers[2], expected, rtol=1e-4, atol=1e-3)
        rows_list.append(("(c) dW1 + momentum, one GEMM (SciPy)", best_of(gemm, args.repeat),
                          gemm_bytes, None))

    print(f"load average: {' '.join(f'{v:.1f}' for v in os.getloadavg())}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    header = f"{'case':38} {'ms':>7} {'time x':>7} {'held MiB':>9} {'x eager peak':>13}"
    print(header)
    print("-" * len(header))
    references = {"(b)": rows_list[0][1],
                  "(c)": next(r[1] for r in rows_list if r[0].endswith("materialised"))}
    for case, seconds, held, of_eager in rows_list:
        ratio = seconds / references[case[:3]]
        share = "" if of_eager is None else f"{of_eager:.2f}"
        print(f"{case:38} {seconds * 1e3:7.3f} {ratio:7.2f} {held / 2**20:9.2f} {share:>13}")


if __name__ == "__main__":
    main()
