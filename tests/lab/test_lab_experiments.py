"""Every experiment's code path in quick mode: the result's structure, the plots on disk, the
verdict consistent with the checks, and the numbers quoted in the verdict equal to the measured
ones; plus independent oracles for the measurements that can be recomputed."""

import json
import math

import numpy as np
import pytest

from hybridgrad import lab
from hybridgrad.lab.common import fmt

RUNNABLE = [name for name in lab.names() if name != "ctc"]

# For each experiment, where in ``numbers`` a value quoted in the verdict lives.
QUOTED = {
    "normalization": [("tanh / raw [0,255]", "test_accuracy"),
                      ("sigmoid / [-1,1]", "saturation_at_init"),
                      ("tanh / raw + BatchNorm", "test_accuracy")],
    "loss": [("confidently_wrong", "ce_grad_norm"), ("confidently_wrong", "mse_grad_norm"),
             ("regression", "mse_parameter_shift"), ("regression", "mae_parameter_shift"),
             ("information_bits", "f(1/8)")],
    "one-hot": [("linear_fit_mse_one_hot",), ("linear_fit_mse_label_encoded",),
                ("one_hot_max_deviation_from_sqrt2",)],
    "positional-encoding": [("sinusoidal", "min_distance_between_positions"),
                            ("sinusoidal", "max_abs_value"),
                            ("linear pos", "max_abs_value")],
    "attention": [("test_accuracy",), ("head_distance_at_init",), ("head_distance_trained",)],
    "paradigms": [("cases", "inference", "max_output_difference"),
                  ("cases", "training step", "plan", "planned_bytes"),
                  ("cases", "training step", "plan", "naive_bytes")],
    "epochs-batches": [("gradient_noise_loglog_slope",), ("long_run", "best_epoch")],
    "cnn-depth-width": [("networks", "baseline", "test_accuracy"),
                        ("networks", "wider", "test_accuracy"),
                        ("nearest_centroid_accuracy", "pixels")],
    "iris": [("kmeans3_ari_raw",), ("kmeans3_ari_pca",), ("kmeans2_ari_setosa_vs_rest",)],
    "gan-vs-vae": [("measures", "CGAN", "sharpness"), ("measures", "CVAE", "diversity")],
    "sparse-vs-dense": [("val_loss_at_equal_time", "dense"), ("val_loss_at_equal_time", "sparse"),
                        ("val_loss_at_common_tokens", "sparse"), ("common_tokens",)],
}


def _dig(numbers, path):
    for key in path:
        numbers = numbers[key]
    return numbers


@pytest.mark.parametrize("name", RUNNABLE)
def test_result_structure_and_plots(name, quick_results):
    result = quick_results(name)
    assert isinstance(result, lab.Result)
    assert result.name == name and result.seconds > 0
    assert result.claim_zh and any("\u4e00" <= ch <= "\u9fff" for ch in result.claim_zh)
    assert result.claim_en and not any("\u4e00" <= ch <= "\u9fff" for ch in result.claim_en)
    json.dumps(result.to_dict())  # numbers are plain JSON
    if result.skipped_reason:
        assert result.supported is None and result.images == []
        assert result.verdict == f"skipped: {result.skipped_reason}"
        return
    prefix = {True: "supported in this run: ", False: "not supported: ",
              None: "partly supported: "}[result.supported]
    assert result.verdict.startswith(prefix)
    assert result.images, "every experiment that runs draws at least one plot"
    for image in result.images:
        assert image.is_file() and image.parent.name == name
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    checks = result.numbers.get("checks") or result.numbers.get("claims")
    if checks:
        values = list(checks.values())
        expected = True if all(values) else (False if not any(values) else None)
        assert result.supported is expected
        for failed in (k for k, ok in checks.items() if not ok):
            assert failed in result.verdict


@pytest.mark.parametrize("name", RUNNABLE)
def test_verdict_quotes_the_measured_numbers(name, quick_results):
    result = quick_results(name)
    if result.skipped_reason:
        pytest.skip(f"{name} skipped in this checkout: {result.skipped_reason}")
    for path in QUOTED[name]:
        value = _dig(result.numbers, path)
        assert fmt(value) in result.verdict, (path, fmt(value), result.verdict)


def test_one_hot_oracle(quick_results):
    numbers = quick_results("one-hot").numbers
    count = numbers["categories"]
    expected = [[0.0 if i == j else math.sqrt(2) for j in range(count)] for i in range(count)]
    np.testing.assert_allclose(numbers["one_hot_distances"], expected, atol=1e-12)
    np.testing.assert_allclose(numbers["label_distances"],
                               [[abs(i - j) for j in range(count)] for i in range(count)])
    assert quick_results("one-hot").supported is True


def test_positional_encoding_oracle(quick_results):
    from hybridgrad.nn.attention import sinusoidal_positional_encoding

    numbers = quick_results("positional-encoding").numbers
    longest = max(numbers["lengths"])
    table = np.asarray(sinusoidal_positional_encoding(longest, numbers["d_model"],
                                                      "float64")._array)
    smallest = min(np.linalg.norm(table[i] - table[j])
                   for i in range(0, longest, 7) for j in range(i + 1, min(i + 40, longest)))
    assert numbers["sinusoidal"]["min_distance_between_positions"] <= smallest + 1e-9
    assert numbers["sinusoidal"]["min_distance_between_positions"] > 0.01
    assert numbers["sinusoidal"]["max_abs_value"] == pytest.approx(np.abs(table).max())
    assert numbers["linear pos"]["max_abs_value"] == longest - 1


def test_iris_oracle(quick_results):
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_iris
    from sklearn.metrics import adjusted_rand_score

    numbers = quick_results("iris").numbers
    bunch = load_iris()
    clusters = KMeans(3, n_init=3, random_state=0).fit_predict(bunch.data)
    assert numbers["kmeans3_ari_raw"] == pytest.approx(adjusted_rand_score(bunch.target,
                                                                           clusters))
    petal = bunch.data[:, 2]
    gap = petal[bunch.target != 0].min() - petal[bunch.target == 0].max()
    assert numbers["setosa_gap_by_feature"]["petal length"] == pytest.approx(gap)


def test_loss_oracle(quick_results):
    numbers = quick_results("loss").numbers
    assert numbers["information_bits"] == {"f(1/8)": 3.0, "f(1/2)": 1.0, "f(1/4)": 2.0}
    kl = numbers["kl_example_bits"]
    assert kl["KL(P||Q)"] == pytest.approx(0.25) and kl["H(P)"] == pytest.approx(1.75)
    # Cross-entropy's logit gradient is softmax - onehot: by hand for logits [12, 0, ..., 0].
    probabilities = np.exp([12.0] + [0.0] * 9)
    probabilities /= probabilities.sum()
    by_hand = probabilities - np.eye(10)[1]
    assert numbers["confidently_wrong"]["ce_grad_norm"] == pytest.approx(
        np.linalg.norm(by_hand))


def test_normalization_budget_and_saturation(quick_results):
    numbers = quick_results("normalization").numbers
    for activation in ("sigmoid", "tanh"):
        raw = numbers[f"{activation} / raw [0,255]"]["saturation_at_init"]
        assert raw > 0.5  # pixels up to 255 push almost every unit into the flat region
        assert numbers[f"{activation} / [-1,1]"]["saturation_at_init"] < 0.05
    assert numbers["budget"]["epochs"] == 1


def test_epochs_batches_noise_scales_like_one_over_batch(quick_results):
    numbers = quick_results("epochs-batches").numbers
    assert -1.6 < numbers["gradient_noise_loglog_slope"] < -0.5
    sweep = numbers["batch_sweep"]
    sizes = sorted(sweep, key=int)
    assert sweep[sizes[-1]]["step_peak_bytes"] > sweep[sizes[0]]["step_peak_bytes"]


def test_sparse_vs_dense_oracle(quick_results):
    numbers = quick_results("sparse-vs-dense").numbers
    dense, sparse = numbers["dense"], numbers["sparse"]
    # Same compute per token, E times the MLP parameters: the sparse model is larger.
    assert sparse["parameters"] > dense["parameters"]
    assert numbers["common_tokens"] == min(dense["tokens"], sparse["tokens"])
    for entry in (dense, sparse):
        assert entry["tokens"] == entry["steps"] * numbers["batch_size"] * numbers["block_size"]
        assert entry["final_val_loss"] == entry["curve"][-1][2]
    # Every training token was routed to exactly one expert in each layer.
    assert all(sum(load) == sparse["tokens"] for load in numbers["expert_load"])
