"""Nearest-neighbour search: one interface, :class:`NeighbourIndex`, for every neighbour
search of the project (``KNNDetector``, the kNN densities of the density-ratio detectors and
of HistoryAD's knn estimator).

Engines, chosen by ``method``:

- ``"exact"`` (the default): the exact k nearest rows. Above ``TREE_MAX_DIM`` features,
  FAISS's brute-force ``IndexFlatL2`` (BLAS on the CPU; a FAISS GPU index when ``device`` is
  CUDA and a GPU build of FAISS is installed, else the CPU, logged); at or below it, a
  kd-tree (scikit-learn's), which is exact too and far faster than brute force in low
  dimension (BENCHMARKS.md, "The exact engine by dimension": 9× faster at 3 features, 10×
  slower at 62).
- ``"ivf"``: FAISS ``IndexIVFFlat``, approximate: ``nlist`` ≈ 4·√N k-means cells, ``nprobe``
  of them searched (``IVF_NPROBE``). Above ``IVF_PCA_DIM`` features, when the first
  ``IVF_PCA_DIM`` principal components hold at least ``IVF_PCA_MIN_VARIANCE`` of the
  variance (and at least twice ``IVF_PCA_DIM`` features and as many rows as features to
  estimate them), the cells hold those components (FAISS ``PCAMatrix`` in front of the IVF, an
  ``IndexPreTransform``): a query's scan of its cells then stays in cache, and
  ``IVF_CANDIDATES_PER_K`` × k candidates are re-ranked on full distances. On MNIST 60k the
  training scores then take a fraction of the exact search's time at recall@5 ≈ 0.995
  (BENCHMARKS.md, section 9). ``IVF_PCA_DIM``, ``IVF_NPROBE`` and ``IVF_CANDIDATES_PER_K``
  were chosen on MNIST's training images, ``IVF_PCA_MIN_VARIANCE`` on MNIST, KMNIST and
  two ADBench sets (variance share in 64 components, recall@5 of the PCA cells: MNIST 0.86,
  0.995; KMNIST 0.75, 0.975; ADBench 24_mnist 0.98, 0.998; 17_InternetAds 0.54, 0.78 — so
  InternetAds, like structureless data, keeps full-dimensional cells).
- ``"hnsw"``: FAISS ``IndexHNSWFlat``, approximate (M = ``HNSW_M``, efSearch
  ``HNSW_EF_SEARCH``; recall@5 0.9996 on MNIST 60k); CPU only.
- ``"sklearn"``: scikit-learn's ``NearestNeighbors`` with its defaults, the search this
  project used before FAISS; kept for comparisons (``benchmarks/neighbors_speed.py``).

Distances are Euclidean. FAISS ranks candidates from float32 squared distances computed as
‖x‖² + ‖y‖² − 2 x·y (the rows are centred first, which keeps that expansion accurate); the
k + ``REFINE_EXTRA`` best candidates are then re-ranked on distances computed directly,
Σ (x_i − y_i)², so returned distances match scikit-learn's exact ones to float32 precision
and exact duplicates get distance 0.

Queries run in chunks of ``CHUNK_ROWS`` rows (``TREE_CHUNK_ROWS`` for kd-trees), so memory
stays bounded whatever the number of queries. :meth:`NeighbourIndex.search_self` gives the
leave-one-out neighbours of the index's own rows (training scores) chunk by chunk, with no
N × N matrix: it searches k + 1 neighbours and drops, per row, exactly one entry: the row
itself, by index (when k + 1 duplicates of a row hide it, the last entry, also at 0).

Threads: FAISS and the kd-tree use ``torch.get_num_threads()`` threads (set it with
``torch.set_num_threads`` or the CLI's ``--threads``), so one setting governs the networks
and the neighbour search.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)

#: ``method`` values of :class:`NeighbourIndex` (and the detectors' ``neighbor_search``).
SEARCH_METHODS: tuple[str, ...] = ("exact", "ivf", "hnsw", "sklearn")
#: "exact" uses a kd-tree at or below this many features, FAISS brute force above.
TREE_MAX_DIM = 16
#: Query rows per FAISS search call (bounds the memory of a search); a kd-tree query needs
#: no more than its (B, k) results, so trees take TREE_CHUNK_ROWS (fewer thread start-ups).
CHUNK_ROWS = 4096
TREE_CHUNK_ROWS = 65536
#: Extra FAISS candidates re-ranked on direct distances (k + REFINE_EXTRA are fetched).
REFINE_EXTRA = 4
#: IVF: cells searched per query (of nlist ≈ 4·√N), k-means iterations and training rows
#: per cell (recall and cost on MNIST: BENCHMARKS.md, "Neighbour search").
IVF_NPROBE = 32
IVF_NITER = 10
IVF_TRAIN_PER_LIST = 40
#: IVF above this many features: cells of the first IVF_PCA_DIM principal components, and
#: IVF_CANDIDATES_PER_K × k candidates re-ranked on full distances (chosen on MNIST).
IVF_PCA_DIM = 64
IVF_CANDIDATES_PER_K = 4
IVF_PCA_MIN_VARIANCE = 0.7
#: HNSW: graph degree, construction and search beam widths.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128

_warned_gpu = False


def _faiss() -> Any:
    import faiss  # imported lazily: only the FAISS engines need it

    faiss.omp_set_num_threads(torch.get_num_threads())
    return faiss


def _gpu_resources(device: str) -> tuple[Any, int] | None:
    """(StandardGpuResources, device id) when ``device`` is CUDA and this FAISS build has a
    GPU; None otherwise (logged once when CUDA was asked for)."""
    global _warned_gpu
    dev = torch.device(device)
    if dev.type != "cuda":
        return None
    faiss = _faiss()
    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        return faiss.StandardGpuResources(), int(dev.index or 0)
    if not _warned_gpu:
        logger.warning(
            "device=%r but this FAISS build has no GPU support (faiss-cpu): neighbour "
            "search runs on the CPU; install a GPU build of FAISS to search on the GPU",
            device,
        )
        _warned_gpu = True
    return None


def _engine(method: str, dim: int) -> str:
    if method not in SEARCH_METHODS:
        raise ValueError(f"method={method!r} is not allowed; choose one of {list(SEARCH_METHODS)}")
    if method == "exact":
        return "kdtree" if dim <= TREE_MAX_DIM else "flat"
    return method


def drop_self(
    dist: np.ndarray, idx: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out: from (B, k + 1) neighbours of the index's rows ``rows`` (B,), drop per
    row exactly one entry: the row itself (by index) or, when it is absent (k + 1 duplicates
    of it came first), the last entry. Returns (B, k) distances and indices."""
    b, k1 = idx.shape
    is_self = idx == rows[:, None]
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k1 - 1)
    keep = np.ones((b, k1), dtype=bool)
    keep[np.arange(b), drop] = False
    return dist[keep].reshape(b, k1 - 1), idx[keep].reshape(b, k1 - 1)


class NeighbourIndex:
    """The k nearest rows of ``data`` (N, d) to queries, by Euclidean distance.

    Args:
        data: (N, d) rows to search (any real dtype; stored as float32).
        method: one of ``SEARCH_METHODS`` (module docstring); "exact" by default.
        device: "cuda…" puts FAISS indices on the GPU when FAISS has a GPU build.
        random_state: seeds IVF's k-means.

    ``search(X, k)`` -> (B, k) float64 distances, (B, k) int64 row indices, nearest first;
    ``search_self(k)`` -> the same for every indexed row, each left out of its own
    neighbours; ``rows()`` -> a copy of the indexed rows.
    """

    def __init__(self, data: np.ndarray, *, method: str = "exact", device: str = "cpu",
                 random_state: int = 0) -> None:
        data = np.ascontiguousarray(data, dtype=np.float32)
        if data.ndim != 2 or len(data) == 0:
            raise ValueError(f"data has shape {data.shape}; expected (N, d) with N >= 1")
        self.n_rows, self.dim = int(data.shape[0]), int(data.shape[1])
        self.method = method
        self.engine = _engine(method, self.dim)
        self.device = str(device)
        self.on_gpu = False
        self._pca = False  # IVF on principal components (set by _build)
        if self.engine in ("kdtree", "sklearn"):
            from sklearn.neighbors import NearestNeighbors

            algorithm = "kd_tree" if self.engine == "kdtree" else "auto"
            self._data = data
            self._sk = NearestNeighbors(algorithm=algorithm).fit(data)
            return
        # FAISS: centre the rows (distances are unchanged; the float32 expansion
        # ‖x‖² + ‖y‖² − 2x·y then loses far less to cancellation)
        self._mean = data.mean(axis=0, dtype=np.float64).astype(np.float32)
        self._index, self._centred = self._build(data, random_state)

    # -- construction --------------------------------------------------------------------
    def _build(self, data: np.ndarray, random_state: int) -> tuple[Any, np.ndarray]:
        """The FAISS index of the centred rows, and those rows (a view of the index's own
        copy where it keeps one, so the rows are held once)."""
        faiss = _faiss()
        n, d = data.shape
        gpu = _gpu_resources(self.device) if self.engine in ("flat", "ivf") else None
        if self.engine == "hnsw" and torch.device(self.device).type == "cuda":
            logger.info("HNSW has no FAISS GPU index: searching on the CPU")
        if self.engine in ("flat", "hnsw"):
            if self.engine == "flat":
                index = storage = faiss.IndexFlatL2(d)
            else:
                index = faiss.IndexHNSWFlat(d, HNSW_M)
                index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
                index.hnsw.efSearch = HNSW_EF_SEARCH
            for start in range(0, n, CHUNK_ROWS):  # centred chunk by chunk: one copy in all
                index.add(data[start : start + CHUNK_ROWS] - self._mean)
            if self.engine == "hnsw":
                storage = faiss.downcast_index(index.storage)
            centred = faiss.rev_swig_ptr(storage.get_xb(), n * d).reshape(n, d)
            if gpu is not None:
                self._cpu_index = index  # owns ``centred``, kept for re-ranking
                index = faiss.index_cpu_to_gpu(gpu[0], gpu[1], index)
                self._gpu_res, self.on_gpu = gpu[0], True
            return index, centred
        # ivf: the lists hold the rows in cell order (or their principal components), so the
        # centred rows are kept as well, for re-ranking
        centred = data - self._mean
        nlist = max(1, min(round(4 * math.sqrt(n)), n // 39))
        n_train = min(n, IVF_TRAIN_PER_LIST * nlist)
        rng = np.random.default_rng(random_state)
        sample = centred if n_train == n else centred[np.sort(rng.choice(n, n_train, False))]
        pca = self._principal_components(faiss, sample)
        cell_dim = IVF_PCA_DIM if pca is not None else d
        quantizer = faiss.IndexFlatL2(cell_dim)
        ivf = index = faiss.IndexIVFFlat(quantizer, cell_dim, nlist)
        if pca is not None:
            index = faiss.IndexPreTransform(pca, ivf)
        self._parts = (quantizer, ivf, pca)  # the FAISS objects do not own their parts
        ivf.cp.seed = int(random_state)
        ivf.cp.niter = IVF_NITER
        index.train(sample)
        index.add(centred)
        ivf.nprobe = min(IVF_NPROBE, nlist)
        if gpu is not None:
            self._cpu_index = index
            index = faiss.index_cpu_to_gpu(gpu[0], gpu[1], index)
            self._gpu_res, self.on_gpu = gpu[0], True
        return index, centred

    def _principal_components(self, faiss: Any, sample: np.ndarray) -> Any:
        """IVF's ``PCAMatrix`` to ``IVF_PCA_DIM`` dimensions, trained on ``sample``, when the
        rows have at least twice as many features, the sample has at least as many rows as
        features, and those components hold at least ``IVF_PCA_MIN_VARIANCE`` of the
        variance; None otherwise (cells of full rows)."""
        if self.dim < 2 * IVF_PCA_DIM or len(sample) < self.dim:
            return None
        pca = faiss.PCAMatrix(self.dim, IVF_PCA_DIM)
        pca.train(sample)
        eig = np.clip(faiss.vector_to_array(pca.eigenvalues), 0, None)
        share = float(eig[:IVF_PCA_DIM].sum() / max(eig.sum(), 1e-30))
        self._pca = share >= IVF_PCA_MIN_VARIANCE
        logger.info("IVF cells: %s (the first %d principal components hold %.2f of the "
                    "variance)", f"{IVF_PCA_DIM} principal components" if self._pca
                    else f"full rows ({self.dim} features)", IVF_PCA_DIM, share)
        return pca if self._pca else None

    # -- queries -------------------------------------------------------------------------
    def rows(self) -> np.ndarray:
        """A float32 copy (N, d) of the indexed rows, as given."""
        if self.engine in ("kdtree", "sklearn"):
            return self._data.copy()
        return self._centred + self._mean

    def search(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(B, k) distances (float64, ascending) and row indices (int64) of the k nearest
        indexed rows to each row of X (B, d), in chunks of queries (``CHUNK_ROWS``)."""
        X = np.ascontiguousarray(X, dtype=np.float32).reshape(len(X), -1)
        self._check_k(k, X)
        dist = np.empty((len(X), k), dtype=np.float64)
        idx = np.empty((len(X), k), dtype=np.int64)
        step = self._chunk_rows()
        for start in range(0, len(X), step):
            stop = min(start + step, len(X))
            dist[start:stop], idx[start:stop] = self._search_chunk(X[start:stop], k)
        return dist, idx

    def search_self(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Leave-one-out neighbours (N, k) of the indexed rows: k + 1 searched per row, the
        row itself dropped (``drop_self``), chunk by chunk (no N × N matrix)."""
        if self.n_rows <= k:
            raise ValueError(f"k={k} leave-one-out neighbours need more than {k} rows; "
                             f"the index has {self.n_rows}")
        dist = np.empty((self.n_rows, k), dtype=np.float64)
        idx = np.empty((self.n_rows, k), dtype=np.int64)
        step = self._chunk_rows()
        for start in range(0, self.n_rows, step):
            stop = min(start + step, self.n_rows)
            if self.engine in ("kdtree", "sklearn"):
                d1, i1 = self._search_chunk(self._data[start:stop], k + 1)
            else:  # the stored centred rows themselves: a row is at distance 0 from itself
                d1, i1 = self._search_centred(self._centred[start:stop], k + 1)
            dist[start:stop], idx[start:stop] = drop_self(d1, i1, np.arange(start, stop))
        return dist, idx

    def _chunk_rows(self) -> int:
        return TREE_CHUNK_ROWS if self.engine in ("kdtree", "sklearn") else CHUNK_ROWS

    def _check_k(self, k: int, X: np.ndarray) -> None:
        if not 1 <= k <= self.n_rows:
            raise ValueError(f"k={k} neighbours asked of an index of {self.n_rows} rows")
        if X.shape[1] != self.dim:
            raise ValueError(f"queries have {X.shape[1]} features; the index has {self.dim}")

    def _search_chunk(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.engine in ("kdtree", "sklearn"):
            n_jobs = torch.get_num_threads() if self.engine == "kdtree" else None
            self._sk.n_jobs = n_jobs
            dist, idx = self._sk.kneighbors(X, n_neighbors=k)
            return dist.astype(np.float64), idx.astype(np.int64)
        return self._search_centred(X - self._mean, k)

    def _search_centred(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        _faiss()  # thread count follows torch's
        extra = (IVF_CANDIDATES_PER_K - 1) * k if self._pca else 0
        kk = min(self.n_rows, k + max(REFINE_EXTRA, extra))
        _, cand = self._index.search(q, kk)  # (B, kk), -1 where fewer were found
        return self._refine(q, cand.astype(np.int64), k)

    def _refine(self, q: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Re-rank candidates (B, kk) on distances computed directly, Σ (q_i − y_i)² (no
        cancellation: duplicates get 0); keep the k nearest. One candidate column at a time
        (B × d floats of memory), with numpy (no second thread pool beside FAISS's)."""
        missing = cand < 0
        safe = np.where(missing, 0, cand)
        sq = np.empty(cand.shape, dtype=np.float64)
        for j in range(cand.shape[1]):
            diff = self._centred[safe[:, j]] - q  # (B, d)
            sq[:, j] = np.einsum("ij,ij->i", diff, diff, dtype=np.float64)
        sq[missing] = np.inf
        order = np.argsort(sq, axis=1, kind="stable")[:, :k]
        dist = np.sqrt(np.take_along_axis(sq, order, axis=1))
        if not np.isfinite(dist).all():
            raise RuntimeError(
                f"the {self.method} index found fewer than {k} neighbours for some queries; "
                "use method='exact'"
            )
        return dist, np.take_along_axis(cand, order, axis=1)


__all__ = [
    "CHUNK_ROWS",
    "SEARCH_METHODS",
    "TREE_MAX_DIM",
    "NeighbourIndex",
    "drop_self",
]
