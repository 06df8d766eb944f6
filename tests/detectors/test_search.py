"""The neighbour-search interface (``historyad.detectors.search``): exact results equal to
scikit-learn's (random and real data), leave-one-out by index with duplicates, chunking,
threads, the approximate indices, the GPU fallback and the detectors that use it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from historyad.detectors import KNNDetector
from historyad.detectors import search as search_mod
from historyad.detectors.search import NeighbourIndex, drop_self

RTOL = 1e-4  # the brief: the same distances as scikit-learn's exact search to 1e-4 relative


def _sklearn(data: np.ndarray, queries: np.ndarray | None, k: int):
    """scikit-learn's exact neighbours on float64 copies (its float32 path rounds duplicate
    distances to ~1e-5 instead of 0). queries=None: leave-one-out over ``data``."""
    nn = NearestNeighbors(algorithm="brute").fit(data.astype(np.float64))
    if queries is None:
        return nn.kneighbors(None, k)
    return nn.kneighbors(queries.astype(np.float64), k)


def _check_same(ours: np.ndarray, ref: np.ndarray, scale: float) -> None:
    # relative to each distance; exact duplicates are 0 on both sides (atol for those)
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=1e-6 * scale)


@pytest.mark.parametrize(("n", "d", "engine"), [(1500, 40, "flat"), (1500, 6, "kdtree")])
def test_exact_search_equals_sklearn_on_random_data(n: int, d: int, engine: str) -> None:
    rng = np.random.default_rng(d)
    X = (rng.standard_normal((n, d)) * rng.uniform(0.5, 3, d) + 50.0).astype(np.float32)
    Q = (rng.standard_normal((300, d)) * 2 + 50.0).astype(np.float32)
    index = NeighbourIndex(X, method="exact")
    assert index.engine == engine
    dist, idx = index.search(Q, 7)
    ref_d, ref_i = _sklearn(X, Q, 7)
    _check_same(dist, ref_d, ref_d.max())
    assert np.mean(idx == ref_i) > 0.99  # indices agree but for exact ties
    dist, idx = index.search_self(5)
    ref_d, _ = _sklearn(X, None, 5)
    _check_same(dist, ref_d, ref_d.max())
    assert not (idx == np.arange(n)[:, None]).any()


@pytest.mark.parametrize("name", ["12_fault", "22_magic.gamma"])
def test_exact_search_equals_sklearn_on_adbench(shared_data: Path, name: str) -> None:
    """Real tables with duplicate rows (fault: 27 features, FAISS; magic: 10, kd-tree)."""
    X = np.load(shared_data / "adbench" / f"{name}.npz")["X"][:3000].astype(np.float32)
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)
    dist, idx = NeighbourIndex(X).search_self(5)
    ref_d, _ = _sklearn(X, None, 5)
    _check_same(dist, ref_d, np.median(ref_d))
    assert not (idx == np.arange(len(X))[:, None]).any()


def test_exact_search_equals_sklearn_on_mnist(shared_data: Path) -> None:
    from historyad.data import load

    ds = load("mnist", root=shared_data)
    X = ds.X[:1500].reshape(1500, -1).astype(np.float32)
    Q = ds.X[-300:].reshape(300, -1).astype(np.float32)
    index = NeighbourIndex(X)
    assert index.engine == "flat"
    ref_d, _ = _sklearn(X, Q, 5)
    _check_same(index.search(Q, 5)[0], ref_d, np.median(ref_d))
    ref_d, _ = _sklearn(X, None, 5)
    _check_same(index.search_self(5)[0], ref_d, np.median(ref_d))


@pytest.mark.parametrize("method", ["exact", "sklearn", "ivf", "hnsw"])
@pytest.mark.parametrize("d", [2, 30])
def test_leave_one_out_drops_exactly_the_row_itself(method: str, d: int) -> None:
    """Duplicates keep their zero distances to each other; exactly one entry, the row
    itself, is dropped per row, also when k + 1 duplicates hide it (then the last)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, d)).astype(np.float32)
    X[10:13] = X[10]  # 3 copies: each has 2 others at distance 0
    X[20:30] = X[20]  # 10 copies: more than k + 1 = 4
    dist, idx = NeighbourIndex(X, method=method).search_self(3)
    rows = np.arange(len(X))[:, None]
    assert dist.shape == idx.shape == (400, 3)
    assert not (idx == rows).any()
    np.testing.assert_array_equal(dist[10:13, :2], 0.0)
    assert (dist[10:13, 2] > 0).all()
    assert set(idx[10, :2]) == {11, 12} and set(idx[11, :2]) == {10, 12}
    np.testing.assert_array_equal(dist[20:30], 0.0)
    assert np.isin(idx[20:30], np.arange(20, 30)).all()


def test_drop_self_by_hand() -> None:
    dist = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    idx = np.array([[7, 3, 5], [1, 2, 4]])  # row 3: itself second; row 9: absent
    d, i = drop_self(dist, idx, np.array([3, 9]))
    np.testing.assert_array_equal(i, [[7, 5], [1, 2]])
    np.testing.assert_array_equal(d, [[0.0, 1.0], [0.0, 0.0]])


@pytest.mark.parametrize("d", [20, 5])  # FAISS, kd-tree
def test_chunked_search_equals_one_block(monkeypatch: pytest.MonkeyPatch, d: int) -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, d)).astype(np.float32)
    Q = rng.standard_normal((50, d)).astype(np.float32)
    whole = NeighbourIndex(X)
    expected = whole.search(Q, 4), whole.search_self(4)
    monkeypatch.setattr(search_mod, "CHUNK_ROWS", 7)
    monkeypatch.setattr(search_mod, "TREE_CHUNK_ROWS", 7)
    chunked = NeighbourIndex(X)
    for (d0, i0), (d1, i1) in zip(expected, (chunked.search(Q, 4), chunked.search_self(4)),
                                  strict=True):
        np.testing.assert_allclose(d1, d0, rtol=1e-6)
        np.testing.assert_array_equal(i1, i0)


def test_rows_round_trip_and_checks() -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 20)).astype(np.float32) + 10
    for method in ("exact", "sklearn", "ivf"):
        np.testing.assert_allclose(NeighbourIndex(X, method=method).rows(), X, atol=1e-5)
    index = NeighbourIndex(X)
    with pytest.raises(ValueError, match="51 neighbours asked of an index of 50 rows"):
        index.search(X, 51)
    with pytest.raises(ValueError, match="queries have 3 features"):
        index.search(X[:, :3], 2)
    with pytest.raises(ValueError, match="need more than 50 rows"):
        index.search_self(50)
    with pytest.raises(ValueError, match="method='annoy' is not allowed"):
        NeighbourIndex(X, method="annoy")


def test_faiss_threads_follow_torch() -> None:
    import faiss

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        NeighbourIndex(np.eye(30, dtype=np.float32) + 1).search(np.ones((2, 30), np.float32), 2)
        assert faiss.omp_get_max_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_approximate_indices_find_most_neighbours() -> None:
    """Clustered data (like real data): IVF and HNSW find ≥ 90 % of the exact neighbours
    (their recall on MNIST is measured in benchmarks/neighbors_speed.py)."""
    rng = np.random.default_rng(4)
    centres = rng.standard_normal((20, 32)) * 5
    X = (centres[rng.integers(0, 20, 4000)] + rng.standard_normal((4000, 32))).astype(np.float32)
    _, exact = NeighbourIndex(X).search_self(5)
    for method in ("ivf", "hnsw"):
        _, approx = NeighbourIndex(X, method=method).search_self(5)
        recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact, approx, strict=True)])
        assert recall > 0.9, (method, recall)


def test_ivf_searches_principal_components_only_where_they_hold_the_variance() -> None:
    """Rows on a 20-dimensional subspace of 256 features (plus noise): IVF's cells hold the
    first 64 principal components and recall stays ≥ 0.95 (the candidates are re-ranked on
    full distances: the returned distances are the exact ones of those rows). Isotropic
    rows of 256 features (64 components hold about a quarter of the variance): full-row
    cells, recall ≥ 0.9."""
    rng = np.random.default_rng(5)
    basis = rng.standard_normal((20, 256))
    low_rank = (rng.standard_normal((3000, 20)) @ basis
                + 0.3 * rng.standard_normal((3000, 256))).astype(np.float32)
    isotropic = rng.standard_normal((3000, 256)).astype(np.float32)
    for X, pca in ((low_rank, True), (isotropic, False)):
        index = NeighbourIndex(X, method="ivf")
        assert index._pca is pca
        dist, approx = index.search_self(5)
        _, exact = NeighbourIndex(X).search_self(5)
        recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact, approx, strict=True)])
        assert recall >= (0.95 if pca else 0.9), (pca, recall)
        direct = np.linalg.norm(X[approx[:, 0]] - X, axis=1)
        np.testing.assert_allclose(dist[:, 0], direct, rtol=1e-4)


def test_ivf_recall_on_mnist_test_images(shared_data: Path) -> None:
    """MNIST's 10,000 test images (not the training images the IVF settings were chosen
    on): principal-component cells, leave-one-out recall@5 ≥ 0.98 (measured 0.998)."""
    from historyad.data import load

    ds = load("mnist", root=shared_data, split="test")
    X = ds.X.reshape(len(ds.X), -1).astype(np.float32)
    index = NeighbourIndex(X, method="ivf")
    assert index._pca
    _, approx = index.search_self(5)
    _, exact = NeighbourIndex(X).search_self(5)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact, approx, strict=True)])
    assert recall >= 0.98, recall


def test_cuda_without_a_gpu_build_searches_on_the_cpu(caplog: pytest.LogCaptureFixture) -> None:
    import faiss

    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        pytest.skip("a GPU build of FAISS with a GPU is installed")
    monkey = pytest.MonkeyPatch()
    monkey.setattr(search_mod, "_warned_gpu", False)
    try:
        X = np.random.default_rng(5).standard_normal((100, 20)).astype(np.float32)
        with caplog.at_level(logging.WARNING, logger="historyad.detectors.search"):
            index = NeighbourIndex(X, device="cuda")
        assert not index.on_gpu
        assert "no GPU support" in caplog.text
        np.testing.assert_allclose(index.search(X[:5], 2)[0][:, 0], 0.0, atol=1e-6)
    finally:
        monkey.undo()


@pytest.mark.parametrize("method", ["largest", "mean"])
def test_knn_detector_equals_the_sklearn_search(method: str) -> None:
    rng = np.random.default_rng(6)
    X = rng.standard_normal((600, 40)).astype(np.float32)
    T = rng.standard_normal((100, 40)).astype(np.float32) * 1.5
    new = KNNDetector(method=method).fit(X)
    old = KNNDetector(method=method, neighbor_search="sklearn").fit(X)
    np.testing.assert_allclose(new.decision_scores_, old.decision_scores_, rtol=RTOL)
    np.testing.assert_allclose(new.decision_function(T), old.decision_function(T), rtol=RTOL)


def test_knn_detector_round_trips_with_its_search(tmp_path: Path) -> None:
    from historyad.detectors.base import BaseDetector

    X = np.random.default_rng(7).standard_normal((200, 20)).astype(np.float32)
    det = KNNDetector(neighbor_search="hnsw").fit(X)
    back = BaseDetector.load(det.save(tmp_path / "knn.safetensors"))
    assert back.neighbor_search == "hnsw"
    np.testing.assert_allclose(back.decision_function(X[:20]), det.decision_function(X[:20]),
                               rtol=1e-5)
