import hybridgrad as hg


def test_notes_numbers_through_python_api():
    x, w, y1, lr = hg.tensor(1.0), hg.tensor(10.0, requires_grad=True), hg.tensor(2.0), 0.1
    loss = (y1 - w * x) ** 2
    loss.backward()
    assert loss.item() == 64.0
    assert w.grad.item() == 16.0
    assert abs((w.detach() - lr * w.grad).item() - 8.4) < 1e-6
