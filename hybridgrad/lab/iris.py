"""The notes' classification tips on Iris: plot the features (setosa separates, the other two
interleave), reduce with PCA when there is no obvious clustering, cluster with KMeans when
there are no labels, and compare the clusters with the species (adjusted Rand index).
scikit-learn supplies Iris, PCA and KMeans.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> result = run(Path(tempfile.mkdtemp()), quick=True)
    >>> result.numbers["kmeans2_setosa_together"]
    1.0
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np

from hybridgrad.lab import Result
from hybridgrad.lab.common import fmt, markdown_table, plt, save, verdict

CLAIM_ZH = ("对数据进行分类 * 有特征：直接通过已经有的分类进行绘制图 * 先通过特征维度绘制图；例"
            "如：数据集仅包含两个分离相当明显的"
            "聚类。其中一个簇包含 Iris setosa，而另一个簇包含 Iris virginica 和 Iris versicolor"
            "；通过特征绘制出的图会"
            "分成明显2堆，其中一堆是交错2种类型 Iris * 如果没有明显的聚类，并且数据维度多，可以"
            "通过 PCA 等方式降维后再分"
            " * 无特征：则先通过 KMeans 能方式聚类，再通过有特征方式分析")
CLAIM_EN = ("To classify data: with features, first plot the feature dimensions. For example the "
            "Iris data set holds just two clearly separated clusters: one contains Iris setosa, "
            "the other Iris virginica and Iris versicolor interleaved; the feature plots split "
            "into two obvious heaps, one of which mixes two kinds of Iris. If there is no obvious "
            "clustering and the data have many dimensions, reduce them first (PCA etc.). "
            "Without labels, cluster first (KMeans etc.), then analyse as with labels.")


def _overlap(first: np.ndarray, second: np.ndarray) -> float:
    """Length of the overlap of the two value ranges (negative: a gap)."""
    return float(min(first.max(), second.max()) - max(first.min(), second.min()))


def _together(cluster_ids: np.ndarray, members: np.ndarray) -> tuple[float, int]:
    """The share of ``members`` in their most common cluster, and how many non-members that
    cluster also holds."""
    cluster = np.bincount(cluster_ids[members]).argmax()
    inside = cluster_ids == cluster
    return float(inside[members].mean()), int(inside[~members].sum())


def run(out_dir: Path, quick: bool = False, seed: int = 0) -> Result:
    """Scatter plots, PCA and KMeans on Iris; the verdict checks the separation claims."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score

    from hybridgrad.data import Iris

    out_dir = Path(out_dir)
    iris = Iris()
    features = iris.data._array.astype(np.float64)
    species = iris.targets._array
    names = iris.classes
    feature_names = [name.replace(" (cm)", "") for name in iris.feature_names]
    setosa = species == 0

    # Per feature: the gap between setosa and the rest, and the overlap of the other two.
    gaps, mixed = {}, {}
    for column, name in enumerate(feature_names):
        values = features[:, column]
        gaps[name] = -_overlap(values[setosa], values[~setosa])
        mixed[name] = _overlap(values[species == 1], values[species == 2])
    best_feature = max(gaps, key=gaps.get)

    n_init = 3 if quick else 10
    kmeans2 = KMeans(2, n_init=n_init, random_state=seed).fit_predict(features)
    kmeans3 = KMeans(3, n_init=n_init, random_state=seed).fit_predict(features)
    standardized = (features - features.mean(0)) / features.std(0)
    pca = PCA(2, random_state=seed).fit(standardized)
    projected = pca.transform(standardized)
    kmeans3_pca = KMeans(3, n_init=n_init, random_state=seed).fit_predict(projected)
    ari_raw = float(adjusted_rand_score(species, kmeans3))
    ari_pca = float(adjusted_rand_score(species, kmeans3_pca))
    ari_two = float(adjusted_rand_score(np.where(setosa, 0, 1), kmeans2))
    together, intruders = _together(kmeans2, setosa)
    # Which species the errors of 3-means fall between: majority species per cluster.
    majority = {int(c): int(np.bincount(species[kmeans3 == c]).argmax()) for c in range(3)}
    predicted = np.array([majority[int(c)] for c in kmeans3])
    wrong = predicted != species
    setosa_errors = int((wrong & setosa).sum() + (wrong & (predicted == 0)).sum())
    other_errors = int(wrong.sum()) - setosa_errors

    pyplot = plt()
    colors = ["tab:blue", "tab:orange", "tab:green"]
    pairs = list(combinations(range(4), 2))
    figure, axes = pyplot.subplots(2, 3, figsize=(11, 6.5))
    for axis, (first, second) in zip(axes.flat, pairs):
        for label, name in enumerate(names):
            chosen = species == label
            axis.scatter(features[chosen, first], features[chosen, second], s=10,
                         color=colors[label], label=name, alpha=0.8)
        axis.set_xlabel(feature_names[first])
        axis.set_ylabel(feature_names[second])
    axes.flat[0].legend(fontsize=8)
    figure.suptitle("Iris features: setosa separates, versicolor and virginica interleave")
    images = [save(figure, out_dir / "scatter.png")]

    figure, axes = pyplot.subplots(1, 3, figsize=(12, 3.8))
    for label, name in enumerate(names):
        chosen = species == label
        axes[0].scatter(projected[chosen, 0], projected[chosen, 1], s=10, color=colors[label],
                        label=name)
    axes[0].set_title(f"PCA (standardised), {100 * pca.explained_variance_ratio_.sum():.1f}% "
                      "variance")
    axes[0].legend(fontsize=8)
    for axis, clusters, title in ((axes[1], kmeans3, f"KMeans k=3 on raw features, ARI "
                                   f"{ari_raw:.3f}"),
                                  (axes[2], kmeans2, f"KMeans k=2: ARI setosa/rest {ari_two:.3f}")):
        axis.scatter(projected[:, 0], projected[:, 1], c=clusters, cmap="viridis", s=10)
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("PC 1")
    images.append(save(figure, out_dir / "pca-kmeans.png"))

    numbers = {
        "setosa_gap_by_feature": gaps,
        "versicolor_virginica_overlap_by_feature": mixed,
        "best_separating_feature": best_feature,
        "pca_explained_variance": [float(v) for v in pca.explained_variance_ratio_],
        "kmeans2_setosa_together": together,
        "kmeans2_others_in_setosa_cluster": intruders,
        "kmeans2_ari_setosa_vs_rest": ari_two,
        "kmeans3_ari_raw": ari_raw,
        "kmeans3_ari_pca": ari_pca,
        "kmeans3_errors_involving_setosa": setosa_errors,
        "kmeans3_errors_versicolor_virginica": other_errors,
    }
    separated = gaps[best_feature] > 0
    interleaved = all(value > 0 for value in mixed.values())
    supported = separated and interleaved and together == 1.0 and ari_raw < ari_two
    because = (f"setosa is separated by a gap of {fmt(gaps[best_feature])} cm in "
               f"{best_feature}, while versicolor and virginica overlap in all four features "
               f"(overlap {', '.join(f'{k} {fmt(v)}' for k, v in mixed.items())} cm); KMeans "
               f"with k=2 puts {fmt(100 * together)}% of setosa in one cluster together with "
               f"{intruders} other flowers (ARI vs setosa/rest {fmt(ari_two)}); with k=3 the ARI "
               f"against the species is "
               f"{fmt(ari_raw)} on raw features and {fmt(ari_pca)} after PCA to 2-D "
               f"({fmt(100 * sum(pca.explained_variance_ratio_))}% of the variance), with "
               f"{other_errors} of {int(wrong.sum())} errors between versicolor and virginica")
    rows = [[name, gaps[name], mixed[name]] for name in feature_names]
    details = markdown_table(["feature", "setosa gap to the rest (cm)",
                              "versicolor/virginica overlap (cm)"], rows)
    return Result(verdict(supported, because), supported, numbers, images, details=details)
