"""The sets of ``historyad benchmark`` (``SUITE``): images, tables and sensor series, each a
``BenchmarkSet`` whose ``parts(config)`` yields the protocol's splits (see
``evaluation.benchmark`` for the suite's description and the runner)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from historyad.protocols import Split

FAMILIES = ("images", "tables", "series")
NOISE_SIGMA = 0.2
SKAB_TRAIN_ROWS, SKAB_WINDOW = 400, 32
IMAGE_CAPS = {"full": (6_000, 3_000), "quick": (2_000, 1_000)}  # (max_train, max_test)


@dataclass
class SuiteConfig:
    """Where the data are and how large the runs are."""

    data_root: str | None = None
    seed: int = 0
    quick: bool = False

    @property
    def image_caps(self) -> tuple[int, int]:
        return IMAGE_CAPS["quick" if self.quick else "full"]


@dataclass(frozen=True)
class BenchmarkSet:
    """One benchmark set: ``parts(config)`` yields (part name, Split); its metrics are the
    mean over the parts (one part for most sets, one per file for SKAB)."""

    name: str
    family: str
    description: str
    quick: bool
    parts: Callable[[SuiteConfig], Iterator[tuple[str, Split]]]


# -- the sets -------------------------------------------------------------------------------


def _mnist_loo(digit: int) -> Callable[[SuiteConfig], Iterator[tuple[str, Split]]]:
    def parts(cfg: SuiteConfig) -> Iterator[tuple[str, Split]]:
        from historyad.data import load
        from historyad.protocols import leave_one_class_out

        max_train, max_test = cfg.image_caps
        ds = load("mnist", root=cfg.data_root)
        yield str(digit), leave_one_class_out(ds, digit, train_fraction=0.8, seed=cfg.seed,
                                              max_train=max_train, max_test=max_test)
    return parts


def _mnist_vs_kmnist(cfg: SuiteConfig) -> Iterator[tuple[str, Split]]:
    from historyad.data import load
    from historyad.protocols import cross_dataset

    max_train, max_test = cfg.image_caps
    mnist = load("mnist", root=cfg.data_root)
    kmnist = load("kmnist", root=cfg.data_root, split="test")
    yield "kmnist", cross_dataset(mnist, kmnist, seed=cfg.seed, max_train=max_train,
                                  max_test=max_test)


def _mnist_noise(cfg: SuiteConfig) -> Iterator[tuple[str, Split]]:
    from historyad.data import load
    from historyad.protocols import corrupted

    max_train, max_test = cfg.image_caps
    ds = load("mnist", root=cfg.data_root)
    rng = np.random.default_rng(cfg.seed)
    train = rng.permutation(np.flatnonzero(ds.is_train))[:max_train]
    test = rng.permutation(np.flatnonzero(~ds.is_train))[: max_test // 2]
    yield f"sigma={NOISE_SIGMA:g}", corrupted(ds.X[test], sigma=NOISE_SIGMA, seed=cfg.seed + 1,
                                              X_train=ds.X[train], name="mnist")


def _adbench(name: str) -> Callable[[SuiteConfig], Iterator[tuple[str, Split]]]:
    def parts(cfg: SuiteConfig) -> Iterator[tuple[str, Split]]:
        from historyad.data import load
        from historyad.protocols import leave_one_class_out

        ds = load("adbench", subset=name, root=cfg.data_root)
        yield name, leave_one_class_out(ds, "anomaly", train_fraction=0.8, seed=cfg.seed)
    return parts


def _basicmotions(activity: int) -> Callable[[SuiteConfig], Iterator[tuple[str, Split]]]:
    def parts(cfg: SuiteConfig) -> Iterator[tuple[str, Split]]:
        from historyad.data import load
        from historyad.protocols import leave_one_class_out

        ds = load("basicmotions", root=cfg.data_root)
        yield ds.classes[activity], leave_one_class_out(ds, activity, train_fraction=0.8,
                                                        seed=cfg.seed)
    return parts


def _skab_valve1(cfg: SuiteConfig) -> Iterator[tuple[str, Split]]:
    from historyad.data.skab import SKAB_VALVE1, load_skab_recording
    from historyad.protocols import prefix_windows

    for name in SKAB_VALVE1[:4] if cfg.quick else SKAB_VALVE1:
        rec = load_skab_recording(name, root=cfg.data_root)
        yield name, prefix_windows(rec.X, rec.labels, n_train=SKAB_TRAIN_ROWS,
                                   window=SKAB_WINDOW, name=f"skab/{name}")


def _skab_valve1_free(cfg: SuiteConfig) -> Iterator[tuple[str, Split]]:
    """``historyad fit --input`` on SKAB's anomaly-free recording, scored on every valve1
    file: one fit (windows of the anomaly-free rows, stride W/4), the windows of all 16
    files (stride 1) as one test set."""
    from historyad.data.base import sliding_windows
    from historyad.data.skab import SKAB_ANOMALY_FREE, SKAB_VALVE1, load_skab_recording

    free = load_skab_recording(SKAB_ANOMALY_FREE, root=cfg.data_root)
    X_train, _ = sliding_windows(free.X, window=SKAB_WINDOW, stride=SKAB_WINDOW // 4)
    tests = [sliding_windows(r.X, r.labels, window=SKAB_WINDOW, stride=1) for r in
             (load_skab_recording(n, root=cfg.data_root) for n in SKAB_VALVE1)]
    yield "valve1", Split(X_train, np.concatenate([x for x, _ in tests]),
                          np.concatenate([y for _, y in tests]), "skab/anomaly-free-to-valve1",
                          {"window": SKAB_WINDOW, "files": len(tests)})


def dominant_period(x: np.ndarray, *, lo: int = 16, hi: int = 256) -> int:
    """The lag (in [lo, hi]) of the highest autocorrelation peak of a 1-D series (T,): the
    window length of a periodic series, read from normal data only."""
    from scipy.signal import find_peaks

    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    ac = np.correlate(x, x, mode="full")[len(x) - 1 :]
    ac = ac / max(ac[0], 1e-12)
    peaks, _ = find_peaks(ac[: hi + 1])
    peaks = peaks[peaks >= lo]
    return int(peaks[np.argmax(ac[peaks])]) if len(peaks) else lo


def _ucr(series_id: int) -> Callable[[SuiteConfig], Iterator[tuple[str, Split]]]:
    def parts(cfg: SuiteConfig) -> Iterator[tuple[str, Split]]:
        from historyad.data.ucr_anomaly import load_ucr_anomaly
        from historyad.protocols import prefix_windows

        rec, n_prefix = load_ucr_anomaly(series_id, root=cfg.data_root)
        window = dominant_period(rec.X[:n_prefix, 0])
        yield str(series_id), prefix_windows(rec.X, rec.labels, n_train=n_prefix, window=window,
                                             name=f"ucr/{series_id}")
    return parts


def _suite() -> list[BenchmarkSet]:
    from historyad.data.adbench import ADBENCH_SETS

    sets = [BenchmarkSet(f"mnist-loo-{d}", "images", f"MNIST, digit {d} unseen", True,
                         _mnist_loo(d)) for d in range(10)]
    sets += [
        BenchmarkSet("mnist-vs-kmnist", "images", "MNIST normal, KMNIST test images anomalous",
                     True, _mnist_vs_kmnist),
        BenchmarkSet("mnist-noise", "images", f"MNIST test images vs noisy copies "
                     f"(σ = {NOISE_SIGMA:g})", True, _mnist_noise),
    ]
    largest = {"16_http", "10_cover", "34_smtp", "1_ALOI"}
    sets += [BenchmarkSet(f"adbench-{n}", "tables", f"ADBench {n}, novelty protocol",
                          n not in largest, _adbench(n)) for n in ADBENCH_SETS]
    activities = ["standing", "running", "walking", "badminton"]  # BasicMotions class order
    sets += [BenchmarkSet(f"basicmotions-loo-{i}", "series",
                          f"BasicMotions, activity {i} ({activities[i]}) unseen", True,
                          _basicmotions(i)) for i in range(4)]
    sets += [
        BenchmarkSet("skab-valve1", "series", "SKAB valve1, 16 files (4 in --quick)", True,
                     _skab_valve1),
        BenchmarkSet("skab-valve1-free", "series", "SKAB: fit on the anomaly-free recording, "
                     "score all 16 valve1 files (full mode, or named)", False, _skab_valve1_free),
        BenchmarkSet("ucr-135", "series", "UCR anomaly archive, series 135", True, _ucr(135)),
    ]
    return sets


SUITE: list[BenchmarkSet] = _suite()


def select_sets(
    *, quick: bool, names: Sequence[str] = (), families: Sequence[str] = ()
) -> list[BenchmarkSet]:
    """The sets to run: ``names`` (exact names or prefixes such as "adbench") and
    ``families``; by default every set (the quick ones with ``quick``)."""
    bad = sorted(set(families) - set(FAMILIES))
    if bad:
        raise ValueError(f"family={bad} is not allowed; choose from {list(FAMILIES)}")
    out = []
    for s in SUITE:
        if names and not any(s.name == n or s.name.startswith(n) for n in names):
            continue
        if families and s.family not in families:
            continue
        if quick and not s.quick and not names:
            continue
        out.append(s)
    if not out:
        raise ValueError(f"set={list(names)!r} matches no benchmark set; choose from "
                         f"{[s.name for s in SUITE]}")
    return out
