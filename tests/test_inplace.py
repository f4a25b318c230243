"""In-place methods, .data aliasing and version counters (PyTorch's semantics)."""

import numpy as np
import pytest

import hybridgrad as hg

MODIFIED = "modified by an inplace operation"


def test_inplace_arithmetic_values_and_aliasing():
    x = hg.tensor([1.0, 2.0, 3.0])
    view = x[1:]
    alias = x.data
    assert x.add_(1) is x
    x.sub_(hg.ones(3), alpha=0.5).mul_(2).div_(3)
    expected = (np.array([1.0, 2.0, 3.0]) + 1 - 0.5) * 2 / 3
    np.testing.assert_allclose(x.tolist(), expected, rtol=1e-6)
    np.testing.assert_allclose(view.tolist(), expected[1:], rtol=1e-6)
    np.testing.assert_allclose(alias.tolist(), expected, rtol=1e-6)
    x.clamp_(0, 2)
    assert x.max().item() <= 2
    x.zero_()
    assert view.tolist() == [0.0, 0.0]


def test_versions_count_modifications_through_views_and_data():
    x = hg.zeros(4)
    assert x._version == 0
    x.add_(1)
    x[0] = 5.0
    x.data.mul_(2)
    x[1:].fill_(3)
    assert x._version == 4 and x.data._version == 4 and x[2:]._version == 4
    assert x.tolist() == [10.0, 3.0, 3.0, 3.0]


@pytest.mark.parametrize("method, args, expected", [
    ("exp_", (), np.exp([0.5, -1.0])), ("log_", (), np.log([0.5, 2.0])),
    ("sqrt_", (), np.sqrt([0.25, 4.0])), ("abs_", (), [0.5, 1.0]), ("neg_", (), [-0.5, 1.0]),
    ("sigmoid_", (), 1 / (1 + np.exp(-np.array([0.5, -1.0])))), ("tanh_", (), np.tanh([0.5, -1.0])),
    ("relu_", (), [0.5, 0.0]), ("floor_", (), [0.0, -1.0]), ("ceil_", (), [1.0, -1.0]),
    ("pow_", (2,), [0.25, 1.0]), ("clamp_min_", (0.0,), [0.5, 0.0]),
    ("clamp_max_", (0.0,), [0.0, -1.0]), ("fill_", (7,), [7.0, 7.0]),
    ("masked_fill_", (hg.tensor([True, False]), 9.0), [9.0, -1.0]),
])
def test_elementwise_inplace_methods(method, args, expected):
    start = [0.5, -1.0] if method not in ("log_", "sqrt_") else [0.5, 2.0]
    if method == "sqrt_":
        start = [0.25, 4.0]
    x = hg.tensor(start)
    assert getattr(x, method)(*args) is x
    np.testing.assert_allclose(x.tolist(), expected, rtol=1e-6)
    assert x._version == 1


def test_addcmul_addcdiv_lerp_match_their_formulas():
    x, a, b = hg.ones(2), hg.tensor([2.0, 3.0]), hg.tensor([4.0, 5.0])
    assert x.clone().addcmul_(a, b, value=0.5).tolist() == [5.0, 8.5]
    np.testing.assert_allclose(x.clone().addcdiv_(a, b, value=2).tolist(), [2.0, 2.2], rtol=1e-6)
    assert x.clone().lerp_(a, 0.5).tolist() == [1.5, 2.0]


def test_dtype_and_shape_rules_of_inplace_results():
    integers = hg.zeros(2, dtype=hg.int64)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        integers.add_(1.5)
    assert integers.fill_(2.7).tolist() == [2, 2]  # a fill truncates, as PyTorch
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                                           r"broadcast shape \[2, 3\]"):
        hg.zeros(3).add_(hg.zeros(2, 3))
    matrix = hg.zeros(2, 3).add_(hg.tensor([1.0, 2.0, 3.0]))
    assert matrix.tolist() == [[1.0, 2.0, 3.0]] * 2


def test_copy_casts_and_broadcasts():
    target = hg.zeros(2, 2, dtype=hg.float64)
    target.copy_(hg.tensor([1, 2]))
    assert target.dtype == np.float64 and target.tolist() == [[1.0, 2.0], [1.0, 2.0]]
    q = hg.nn.Parameter(hg.tensor([3.0, 4.0]))
    p = hg.nn.Parameter(hg.zeros(2))
    p.data.copy_(q.data)
    assert p.tolist() == [3.0, 4.0] and p.requires_grad and p.is_leaf


def test_random_fills_draw_from_the_seeded_generator():
    hg.manual_seed(3)
    a = hg.zeros(1000).normal_(1.0, 0.1)
    hg.manual_seed(3)
    b = hg.zeros(1000).normal_(1.0, 0.1)
    assert a.tolist() == b.tolist() and abs(a.mean().item() - 1.0) < 0.02
    u = hg.zeros(1000).uniform_(-2, -1)
    assert -2 <= u.min().item() and u.max().item() < -1
    bits = hg.zeros(1000).bernoulli_(0.25)
    assert set(bits.tolist()) <= {0.0, 1.0} and 0.15 < bits.mean().item() < 0.35
    generator = hg.Generator().manual_seed(1)
    first = hg.zeros(3).normal_(generator=generator).tolist()
    assert first == hg.zeros(3).normal_(generator=hg.Generator().manual_seed(1)).tolist()


def test_inplace_on_a_leaf_that_requires_grad():
    w = hg.ones(2, requires_grad=True)
    for update in (lambda: w.add_(1), lambda: w.zero_(), lambda: w.__setitem__(0, 3.0),
                   lambda: w.normal_()):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used "
                                               "in an in-place operation"):
            update()
    with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
        w[:1].mul_(2)
    with hg.no_grad():
        w.mul_(3)
        w -= hg.ones(2)  # the classic hand-written SGD step keeps the leaf
    assert w.tolist() == [2.0, 2.0] and w.is_leaf and w.requires_grad
    w.data.add_(-0.5, hg.ones(2)) if False else w.data.add_(hg.ones(2), alpha=-0.5)
    assert w.tolist() == [1.5, 1.5]


def test_legacy_add_alpha_form_warns_and_computes():
    p = hg.zeros(2)
    with pytest.warns(UserWarning, match="deprecated"):
        p.add_(-0.1, hg.ones(2))
    np.testing.assert_allclose(p.tolist(), [-0.1, -0.1], rtol=1e-6)


def test_hand_written_training_loop_updates_parameters():
    w = hg.tensor([0.0], requires_grad=True)
    for _ in range(3):
        loss = ((w * 2 - 4) ** 2).sum()
        loss.backward()
        with hg.no_grad():
            w -= 0.1 * w.grad
            w.grad.zero_()
    # d/dw (2w - 4)^2 = 4(2w - 4): w: 0 -> 1.6 -> 1.92 -> 1.984.
    np.testing.assert_allclose(w.tolist(), [1.984], rtol=1e-5)


def test_changing_a_saved_output_raises_pytorchs_error():
    w = hg.tensor([1.0, 2.0], requires_grad=True)
    y = w.exp()
    total = y.sum()
    with hg.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match=MODIFIED + r".*output 0 of exp, is at version 1; "
                                                      r"expected version 0 instead"):
        total.backward()


def test_changing_a_saved_input_raises_and_counts_versions():
    w = hg.tensor([1.0, 2.0], requires_grad=True)
    x = w * 1
    loss = (x * x).sum()
    x.mul_(2)
    x.add_(1)
    with pytest.raises(RuntimeError, match="is at version 2; expected version 0 instead"):
        loss.backward()


def test_changing_through_data_or_a_view_is_seen():
    w = hg.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3
    loss = (h * w).sum()
    h.data[0] = 10.0
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_unsaved_inputs_may_change():
    # add's backward reads no values, so changing its input afterwards is allowed (as PyTorch).
    w = hg.tensor([1.0, 2.0], requires_grad=True)
    c = hg.tensor([5.0, 5.0])
    loss = (w + c).sum()
    c.add_(1)
    loss.backward()
    assert w.grad.tolist() == [1.0, 1.0]


def test_recorded_inplace_ops_give_the_out_of_place_gradients():
    w = hg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    x = w * 1
    x.mul_(3).exp_().relu_()
    x.sum().backward()
    np.testing.assert_allclose(w.grad.tolist(), (3 * np.exp(3 * w._array)).tolist(), rtol=1e-5)
    # The producer of the overwritten values (sigmoid saves its output) still sees its values.
    v = hg.tensor([0.3, -0.2], requires_grad=True)
    s = v.sigmoid()
    s.mul_(2)
    s.sum().backward()
    sig = 1 / (1 + np.exp(-v._array))
    np.testing.assert_allclose(v.grad.tolist(), (2 * sig * (1 - sig)).tolist(), rtol=1e-5)


def test_inplace_on_a_constant_with_a_grad_requiring_operand_joins_the_graph():
    w = hg.tensor([1.0, 2.0], requires_grad=True)
    buffer = hg.zeros(2)
    buffer.add_(w * 2)
    assert buffer.requires_grad and not buffer.is_leaf
    buffer.sum().backward()
    assert w.grad.tolist() == [2.0, 2.0]


def test_setitem_with_gradients():
    w = hg.tensor([1.0, 2.0], requires_grad=True)
    outputs = hg.zeros(3, 2)
    outputs[0] = w
    outputs[2] = w * w
    (outputs * hg.tensor([[1.0], [10.0], [100.0]])).sum().backward()
    assert outputs.tolist() == [[1.0, 2.0], [0.0, 0.0], [1.0, 4.0]]
    # d/dw (w + 100 w^2) = 1 + 200 w
    assert w.grad.tolist() == [201.0, 401.0]


def test_rebinding_a_tensor_used_earlier_is_refused_rather_than_misrouted():
    w = hg.tensor([1.0, 2.0], requires_grad=True)
    x = w * 1
    y = x + 1
    x.mul_(2)  # recorded: x now has a new history, which y must not receive
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_augmented_assignment_in_a_graph_is_out_of_place():
    w = hg.tensor([1.0, 2.0], requires_grad=True)
    out = w * 2
    before = out
    out += w
    assert out is not before and before.tolist() == [2.0, 4.0]
    out.sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w += 1


def test_inplace_on_a_view_in_a_graph_is_refused():
    w = hg.tensor([[1.0, 2.0]], requires_grad=True)
    h = w * 2
    with pytest.raises(RuntimeError, match="in-place operation on a view"):
        h[0].mul_(2)


def test_inplace_with_a_grad_requiring_argument_is_recorded():
    w = hg.tensor([[1.0], [2.0]], requires_grad=True)
    buffer = hg.zeros(1, 1)
    buffer.addmm_(hg.tensor([[3.0, 4.0]]), w)
    buffer.sum().backward()
    assert buffer.tolist() == [[11.0]] and w.grad.tolist() == [[3.0], [4.0]]
    value = hg.tensor(2.0, requires_grad=True)
    filled = hg.zeros(3)
    filled.masked_fill_(hg.tensor([True, False, True]), value)
    filled.sum().backward()
    assert value.grad.item() == 2.0
    low = hg.tensor([0.5, 0.5], requires_grad=True)
    clamped = hg.tensor([0.0, 1.0])
    clamped.clamp_(min=low)
    clamped.sum().backward()
    assert low.grad.tolist() == [1.0, 0.0]
