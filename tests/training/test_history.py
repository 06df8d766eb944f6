"""Tests for the generator history: time law (eq. 13), stores, critic average (eq. 14)."""

from __future__ import annotations

import gc
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from torch import nn

from historyad.config import HistoryConfig
from historyad.training._state import load_state, save_state
from historyad.training.history import (
    DiskSnapshotStore,
    HistoryRecorder,
    HistorySampler,
    MemorySnapshotStore,
    OnlineWeightedAverage,
    SnapshotStore,
    make_store,
    sample_times,
    snapshot_weights,
    time_cdf,
    time_density,
)

# --------------------------------------------------------------------------------------------
# time law
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [-1.0, 0.0, 3.0, 50.0])
def test_time_density_integrates_to_one(beta: float) -> None:
    alpha, n_epochs = 1.0, 5.0
    f = lambda t: float(time_density(np.array(t), alpha=alpha, beta=beta, n_epochs=n_epochs))  # noqa: E731
    total, _ = integrate.quad(f, alpha, n_epochs, points=[alpha + 0.05, alpha + 0.2], limit=200)
    assert total == pytest.approx(1.0, abs=1e-8)
    outside = np.array([-1.0, 0.0, 0.999, 5.001, 10.0])
    assert np.all(time_density(outside, alpha=alpha, beta=beta, n_epochs=n_epochs) == 0.0)
    inside = np.linspace(alpha, n_epochs, 7)
    d = time_density(inside, alpha=alpha, beta=beta, n_epochs=n_epochs)
    # proportional to e^(−βt) inside the window
    np.testing.assert_allclose(d / d[0], np.exp(-beta * (inside - alpha)), rtol=1e-10)


def test_time_density_continuous_at_tiny_beta_and_huge_beta() -> None:
    t = np.linspace(0.5, 3.0, 11)
    d0 = time_density(t, alpha=0.5, beta=0.0, n_epochs=3.0)
    d_tiny = time_density(t, alpha=0.5, beta=1e-13, n_epochs=3.0)
    np.testing.assert_allclose(d_tiny, d0, rtol=1e-9)
    big = time_density(t, alpha=0.5, beta=1e4, n_epochs=3.0)
    assert np.all(np.isfinite(big)) and big[0] == pytest.approx(1e4)


@pytest.mark.parametrize("beta", [-2.0, 0.0, 1e-15, 3.0, 50.0, 200.0, -200.0])
def test_sample_times_matches_cdf(beta: float) -> None:
    alpha, n_epochs = 1.0, 4.0
    rng = np.random.default_rng(123)
    t = sample_times(4000, alpha=alpha, beta=beta, n_epochs=n_epochs, rng=rng)
    assert t.shape == (4000,) and t.dtype == np.float64
    assert np.all(np.isfinite(t)) and t.min() >= alpha and t.max() <= n_epochs
    cdf = lambda x: time_cdf(x, alpha=alpha, beta=beta, n_epochs=n_epochs)  # noqa: E731
    assert stats.kstest(t, cdf).pvalue > 1e-3
    if abs(beta) >= 200:  # practically an exponential with mean 1/|β| from the peak end
        dist = t - alpha if beta > 0 else n_epochs - t
        assert dist.mean() == pytest.approx(1 / abs(beta), rel=0.1)


@settings(max_examples=30, deadline=None)
@given(
    alpha=st.floats(0.0, 3.0),
    length=st.floats(1e-3, 10.0),
    beta=st.floats(-300.0, 300.0),
)
def test_sample_times_in_window_and_cdf_consistent(
    alpha: float, length: float, beta: float
) -> None:
    n_epochs = alpha + length
    t = sample_times(64, alpha=alpha, beta=beta, n_epochs=n_epochs, rng=np.random.default_rng(0))
    assert np.all((t >= alpha) & (t <= n_epochs))
    grid = np.linspace(alpha, n_epochs, 9)
    c = time_cdf(grid, alpha=alpha, beta=beta, n_epochs=n_epochs)
    assert c[0] == pytest.approx(0.0, abs=1e-12) and c[-1] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(c) >= -1e-12)


def test_sample_times_point_mass_and_errors() -> None:
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(sample_times(3, alpha=2, beta=1, n_epochs=2, rng=rng), [2.0] * 3)
    assert sample_times(0, alpha=0, beta=1, n_epochs=2, rng=rng).shape == (0,)
    with pytest.raises(ValueError, match="alpha=3"):
        sample_times(3, alpha=3.0, beta=1.0, n_epochs=2.0, rng=rng)
    with pytest.raises(ValueError, match="beta=nan"):
        sample_times(3, alpha=0.0, beta=math.nan, n_epochs=2.0, rng=rng)
    with pytest.raises(ValueError, match="n=-1"):
        sample_times(-1, alpha=0.0, beta=1.0, n_epochs=2.0, rng=rng)
    with pytest.raises(ValueError, match="alpha=2"):
        time_density(np.ones(2), alpha=2.0, beta=1.0, n_epochs=2.0)


def test_snapshot_weights() -> None:
    t = np.linspace(1.0, 5.0, 9)
    w = snapshot_weights(t, beta=1.3)
    np.testing.assert_allclose(w, np.exp(-1.3 * t) / np.exp(-1.3 * t).sum(), rtol=1e-12)
    for beta in (1000.0, -1000.0):
        w = snapshot_weights(t, beta=beta)
        assert np.all(np.isfinite(w)) and w.sum() == pytest.approx(1.0)
        assert w[0 if beta > 0 else -1] == pytest.approx(1.0)
    np.testing.assert_allclose(snapshot_weights(t, beta=0.0), np.full(9, 1 / 9))
    with pytest.raises(ValueError, match="times"):
        snapshot_weights(np.array([]), beta=1.0)


# --------------------------------------------------------------------------------------------
# online critic average
# --------------------------------------------------------------------------------------------


def _critic() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))


def _random_states(n: int, seed: int) -> list[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    base = _critic().state_dict()
    states = []
    for k in range(n):
        s = {}
        for name, v in base.items():
            if v.is_floating_point():
                s[name] = torch.randn(v.shape, generator=gen) * 3 + k
            else:
                s[name] = torch.tensor(k + 1, dtype=v.dtype)
        states.append(s)
    return states


@pytest.mark.parametrize(("beta", "t_max"), [(0.0, 3.0), (3.0, 3.0), (-2.0, 3.0), (30.0, 5.0)])
def test_online_average_equals_brute_force(beta: float, t_max: float) -> None:
    times = np.linspace(1.0, t_max, 25)
    states = _random_states(len(times), seed=1)
    avg = OnlineWeightedAverage(beta=beta)
    for t, s in zip(times, states, strict=True):
        avg.update(float(t), s)
    assert avg.count == len(times)
    w = snapshot_weights(times, beta=beta)
    got = avg.average()
    assert list(got) == list(states[0])
    for name, v in got.items():
        if v.is_floating_point():
            want = sum(wk * s[name].double() for wk, s in zip(w, states, strict=True))
            assert v.dtype == torch.float32
            torch.testing.assert_close(v.double(), want, atol=1e-6, rtol=1e-6)
        else:
            assert int(v) == len(times)  # taken from the latest state
    # the average loads into the critic
    _critic().load_state_dict(got)


def test_online_average_resume(tmp_path: Path) -> None:
    times = np.linspace(1.0, 5.0, 12)
    states = _random_states(len(times), seed=2)
    full = OnlineWeightedAverage(beta=30.0)
    half = OnlineWeightedAverage(beta=30.0)
    for t, s in zip(times, states, strict=True):
        full.update(float(t), s)
    for t, s in zip(times[:6], states[:6], strict=True):
        half.update(float(t), s)
    save_state(half.state_dict(), tmp_path / "avg")
    resumed = OnlineWeightedAverage(beta=30.0)
    resumed.load_state_dict(load_state(tmp_path / "avg"))
    for t, s in zip(times[6:], states[6:], strict=True):
        resumed.update(float(t), s)
    assert resumed.count == full.count
    for name, v in full.average().items():
        torch.testing.assert_close(resumed.average()[name], v, atol=0, rtol=0)
    with pytest.raises(ValueError, match="beta"):
        OnlineWeightedAverage(beta=1.0).load_state_dict(half.state_dict())
    with pytest.raises(RuntimeError):
        OnlineWeightedAverage(beta=1.0).average()
    bad = dict(states[0])
    bad.pop("0.bias")
    with pytest.raises(ValueError, match="missing"):
        full.update(6.0, bad)


# --------------------------------------------------------------------------------------------
# recorder
# --------------------------------------------------------------------------------------------


def _run_recorder(rec: HistoryRecorder, g: nn.Linear, c: nn.Module, iters: range) -> list[int]:
    recorded = []
    for i in iters:
        with torch.no_grad():
            g.weight.fill_(float(i))
            c[0].bias.fill_(float(i))
        if rec.step(i, g, c):
            recorded.append(i)
    return recorded


def test_recorder_schedule_alpha_and_window() -> None:
    # 3 epochs of 187 generator iterations, 50 saves per epoch: snapshots due at the first
    # i with floor(50 i / 187) >= k, k = 1..150, t = i / 187. α = 1 keeps k = 50..150, i.e.
    # 101 snapshots including t == 1 exactly. The critic average (n_epochs = 2) uses k = 50..100.
    cfg = HistoryConfig(saves_per_epoch=50, alpha=1.0, beta=3.0, record_critic=True)
    rec = HistoryRecorder(cfg, n_epochs=2.0, iters_per_epoch=187)
    g, c = nn.Linear(2, 2), _critic()
    recorded = _run_recorder(rec, g, c, range(1, 3 * 187 + 1))
    assert rec.n_due == 150
    due_iters = [math.ceil(k * 187 / 50) for k in range(1, 151)]
    assert all(rec.is_due(i) == (i in due_iters) for i in range(1, 562))
    kept = [i for i in due_iters if i >= 187]
    assert len(kept) == 101 and recorded == kept
    np.testing.assert_array_equal(rec.store.times, np.array(kept) / 187)
    assert rec.store.times[0] == 1.0 and rec.store.times[-1] == 3.0
    assert rec.critic_store is not None
    np.testing.assert_array_equal(rec.critic_store.times, rec.store.times)
    assert rec.average.count == 51  # t in [1, 2]
    assert float(rec.store.load(0)["weight"][0, 0]) == 187.0
    want = sum(
        w * i
        for w, i in zip(
            snapshot_weights(np.array(kept[:51]) / 187, beta=3.0), kept[:51], strict=True
        )
    )
    assert float(rec.average.average()["0.bias"][0]) == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="gen_iter=5"):
        rec.step(5, g, c)


def test_recorder_caps_saves_per_epoch(caplog: pytest.LogCaptureFixture) -> None:
    cfg = HistoryConfig(saves_per_epoch=50, alpha=0.0)
    with caplog.at_level(logging.WARNING):
        rec = HistoryRecorder(cfg, n_epochs=2, iters_per_epoch=10)
    assert "saves_per_epoch=50" in caplog.text
    recorded = _run_recorder(rec, nn.Linear(2, 2), _critic(), range(1, 21))
    assert recorded == list(range(1, 21)) and len(rec.store) == 20


def test_recorder_resume_matches_uninterrupted(tmp_path: Path) -> None:
    for kind in ("memory", "disk"):
        cfg = HistoryConfig(
            saves_per_epoch=7, alpha=0.5, beta=-1.0, history_store=kind,
            store_dir=str(tmp_path / kind),
        )
        g, c = nn.Linear(2, 2), _critic()
        full = HistoryRecorder(cfg, n_epochs=3, iters_per_epoch=20)
        _run_recorder(full, g, c, range(1, 61))
        cfg2 = HistoryConfig(
            saves_per_epoch=7,
            alpha=0.5,
            beta=-1.0,
            history_store=kind,
            store_dir=str(tmp_path / f"{kind}2"),
        )
        first = HistoryRecorder(cfg2, n_epochs=3, iters_per_epoch=20)
        _run_recorder(first, g, c, range(1, 31))
        save_state(first.state_dict(), tmp_path / f"ckpt_{kind}")
        _run_recorder(first, g, c, range(31, 41))  # progress lost by the "crash"
        resumed = HistoryRecorder(cfg2, n_epochs=3, iters_per_epoch=20)
        resumed.load_state_dict(load_state(tmp_path / f"ckpt_{kind}"))
        assert resumed.last_gen_iter == 30
        _run_recorder(resumed, g, c, range(31, 61))
        np.testing.assert_array_equal(resumed.store.times, full.store.times)
        for k in range(len(full.store)):
            for name, v in full.store.load(k).items():
                torch.testing.assert_close(resumed.store.load(k)[name], v)
        for name, v in full.average.average().items():
            torch.testing.assert_close(resumed.average.average()[name], v)
        assert resumed.n_due == full.n_due == 21


# --------------------------------------------------------------------------------------------
# stores
# --------------------------------------------------------------------------------------------


def _fill(store: SnapshotStore, states: list[dict[str, torch.Tensor]]) -> None:
    for k, s in enumerate(states):
        store.add(0.5 + k * 0.25, s)


def test_memory_and_disk_stores_agree(tmp_path: Path) -> None:
    states = _random_states(5, seed=3)
    mem, disk = MemorySnapshotStore(), DiskSnapshotStore(tmp_path / "snaps")
    _fill(mem, states)
    _fill(disk, states)
    assert len(mem) == len(disk) == 5
    np.testing.assert_array_equal(mem.times, disk.times)
    for k in range(5):
        a, b = mem.load(k), disk.load(k)
        assert list(a) == list(b) == list(states[k])
        for name in a:
            torch.testing.assert_close(a[name], states[k][name], atol=0, rtol=0)
            torch.testing.assert_close(b[name], states[k][name], atol=0, rtol=0)
            assert a[name].dtype == b[name].dtype == states[k][name].dtype
    torch.testing.assert_close(mem.load(-1)["0.weight"], states[-1]["0.weight"])
    files = sorted((tmp_path / "snaps").glob("snapshot_*.safetensors"))
    assert len(files) == 5 and (tmp_path / "snaps" / "index.json").is_file()
    assert disk.nbytes == sum(f.stat().st_size for f in files)
    float_bytes = sum(v.numel() * 4 for v in states[0].values() if v.is_floating_point())
    int_bytes = sum(
        v.numel() * v.element_size() for v in states[0].values() if v.dtype == torch.int64
    )
    assert mem.nbytes == 5 * (float_bytes + int_bytes)
    # loads are copies: mutating them leaves the store intact
    mem.load(0)["0.weight"].zero_()
    torch.testing.assert_close(mem.load(0)["0.weight"], states[0]["0.weight"])
    with pytest.raises(ValueError, match=r"t=0\.5"):
        mem.add(0.5, states[0])
    with pytest.raises(IndexError, match="index=5"):
        disk.load(5)


def test_float16_stores(tmp_path: Path) -> None:
    states = _random_states(3, seed=4)
    mem16, mem32 = MemorySnapshotStore(dtype="float16"), MemorySnapshotStore()
    disk16 = DiskSnapshotStore(tmp_path, dtype="float16")
    for store in (mem16, mem32, disk16):
        _fill(store, states)
    int_bytes = 3 * 8  # num_batches_tracked
    assert mem16.nbytes - int_bytes == (mem32.nbytes - int_bytes) // 2
    for k in range(3):
        for name, v in states[k].items():
            for store in (mem16, disk16):
                got = store.load(k)[name]
                assert got.dtype == v.dtype
                torch.testing.assert_close(got, v, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="dtype='bfloat16'"):
        MemorySnapshotStore(dtype="bfloat16")


def test_store_state_dict_round_trip(tmp_path: Path) -> None:
    states = _random_states(4, seed=5)
    for store in (MemorySnapshotStore(dtype="float16"), DiskSnapshotStore(tmp_path / "d")):
        _fill(store, states)
        save_state(store.state_dict(), tmp_path / f"store_{store.kind}")
        rebuilt = SnapshotStore.from_state_dict(load_state(tmp_path / f"store_{store.kind}"))
        assert type(rebuilt) is type(store) and rebuilt.dtype == store.dtype
        np.testing.assert_array_equal(rebuilt.times, store.times)
        assert rebuilt.nbytes == store.nbytes
        for k in range(len(store)):
            for name, v in store.load(k).items():
                torch.testing.assert_close(rebuilt.load(k)[name], v, atol=0, rtol=0)
    reopened = DiskSnapshotStore.open(tmp_path / "d")
    assert len(reopened) == 4
    with pytest.raises(ValueError, match="kind"):
        MemorySnapshotStore().load_state_dict(reopened.state_dict())


def test_disk_store_temp_directory_cleanup(tmp_path: Path) -> None:
    store = DiskSnapshotStore()
    directory = store.directory
    store.add(1.0, {"w": torch.ones(2)})
    assert directory.is_dir() and store.owns_directory
    store.close()
    assert not directory.exists()
    store = DiskSnapshotStore()
    directory = store.directory
    del store
    gc.collect()
    assert not directory.exists()
    kept = DiskSnapshotStore(tmp_path / "mine")
    kept.add(1.0, {"w": torch.ones(2)})
    kept.close()
    assert (tmp_path / "mine" / "index.json").is_file()


def test_make_store(tmp_path: Path) -> None:
    assert isinstance(make_store(HistoryConfig()), MemorySnapshotStore)
    cfg = HistoryConfig(history_store="disk", store_dir=str(tmp_path), store_dtype="float16")
    store = make_store(cfg, subdir="critic")
    assert isinstance(store, DiskSnapshotStore) and store.dtype == "float16"
    assert store.directory == (tmp_path / "critic").resolve()


# --------------------------------------------------------------------------------------------
# sampler
# --------------------------------------------------------------------------------------------


class _CountingStore(MemorySnapshotStore):
    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def load(self, index: int) -> dict[str, torch.Tensor]:
        self.loads += 1
        return super().load(index)


def _constant_store(times: np.ndarray) -> _CountingStore:
    """Snapshot k: a Linear(2, 1) with zero weight and bias k (so G_k(z) = k)."""
    store = _CountingStore()
    for k, t in enumerate(times):
        store.add(float(t), {"weight": torch.zeros(1, 2), "bias": torch.tensor([float(k)])})
    return store


@pytest.mark.parametrize("beta", [1.5, -1.0])
def test_sampler_follows_time_density(beta: float) -> None:
    times = np.arange(1, 51) / 10  # 0.1 .. 5.0; window [1, 5] holds indices 9..49
    store = _constant_store(times)
    sampler = HistorySampler(store, nn.Linear(2, 1), 2, alpha=1.0, beta=beta, n_epochs=5.0)
    x, used_t = sampler.sample(20000, generator=torch.Generator().manual_seed(0), return_times=True)
    assert x.shape == (20000, 1)
    idx = x[:, 0].round().long().numpy()
    np.testing.assert_allclose(times[idx], used_t)
    assert store.loads == len(np.unique(idx))  # one load per distinct snapshot
    cand = times[9:]
    edges = np.concatenate([[1.0], (cand[1:] + cand[:-1]) / 2, [5.0]])
    probs = np.diff(time_cdf(edges, alpha=1.0, beta=beta, n_epochs=5.0))
    counts = np.bincount(idx - 9, minlength=cand.size)
    assert idx.min() >= 9 and counts.sum() == 20000
    assert stats.chisquare(counts, probs * 20000).pvalue > 1e-3


def test_sampler_case2_exact_wide_half_and_batching() -> None:
    d = 256  # mean square per row: ≈ 1 ± 0.09 (narrow) vs ≈ 4 ± 0.35 (wide)
    gen = nn.Linear(d, d, bias=False)
    with torch.no_grad():
        gen.weight.copy_(torch.eye(d))
    store = MemorySnapshotStore()
    store.add(1.0, gen.state_dict())
    store.add(2.0, gen.state_dict())
    for n in (1001, 10):
        sampler = HistorySampler(
            store, gen, d, alpha=1, beta=0, n_epochs=2, case=2, wide_std=2.0, max_batch=128
        )
        x = sampler.sample(n, generator=torch.Generator().manual_seed(1))
        msq = x.pow(2).mean(dim=1)
        assert x.shape == (n, d)
        assert int((msq > 2.0).sum()) == n // 2
        assert msq[msq > 2.0].mean() == pytest.approx(4.0, rel=0.1)
        assert msq[msq <= 2.0].mean() == pytest.approx(1.0, rel=0.15)
    x1 = HistorySampler(store, gen, d, alpha=1, beta=0, n_epochs=2).sample(
        500, generator=torch.Generator().manual_seed(1)
    )
    assert int((x1.pow(2).mean(dim=1) > 2.0).sum()) == 0


def test_sampler_determinism_and_shell(tmp_path: Path) -> None:
    g = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Linear(8, 5))
    g.train()
    mem, disk = MemorySnapshotStore(), DiskSnapshotStore(tmp_path)
    for k in range(6):
        with torch.no_grad():
            for p in g.parameters():
                p.add_(0.1 * k)
        mem.add(k * 0.5, g.state_dict())
        disk.add(k * 0.5, g.state_dict())
    before = {n: v.clone() for n, v in g.state_dict().items()}
    kw = dict(alpha=0.5, beta=1.0, n_epochs=2.5)
    s_mem = HistorySampler(mem, g, 3, **kw)
    s_disk = HistorySampler(disk, g, 3, **kw)
    a = s_mem.sample(300, generator=torch.Generator().manual_seed(7))
    b = s_mem.sample(300, generator=torch.Generator().manual_seed(7))
    c = s_disk.sample(300, generator=torch.Generator().manual_seed(7))
    d = s_mem.sample(300, generator=torch.Generator().manual_seed(8))
    e = s_mem.sample(300, generator=torch.Generator().manual_seed(7), rng=np.random.default_rng(3))
    f = s_mem.sample(300, generator=torch.Generator().manual_seed(7), rng=np.random.default_rng(3))
    assert a.shape == (300, 5) and not a.requires_grad
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    torch.testing.assert_close(a, c, atol=0, rtol=0)
    torch.testing.assert_close(e, f, atol=0, rtol=0)
    assert not torch.equal(a, d)
    assert g.training  # the caller's module is untouched
    for n, v in g.state_dict().items():
        assert torch.equal(v, before[n])


def test_sampler_errors() -> None:
    store = _constant_store(np.array([0.2, 0.4]))
    sampler = HistorySampler(store, nn.Linear(2, 1), 2, alpha=1.0, beta=0.0, n_epochs=3.0)
    with pytest.raises(ValueError, match=r"alpha=1\.0, n_epochs=3\.0; recorded times: \[0\.2"):
        sampler.sample(10)
    with pytest.raises(ValueError, match="empty store"):
        HistorySampler(
            MemorySnapshotStore(), nn.Linear(2, 1), 2, alpha=0, beta=0, n_epochs=1
        ).sample(1)
    with pytest.raises(ValueError, match="case=3"):
        HistorySampler(store, nn.Linear(2, 1), 2, alpha=0, beta=0, n_epochs=1, case=3)
    with pytest.raises(ValueError, match="n=0"):
        HistorySampler(store, nn.Linear(2, 1), 2, alpha=0, beta=0, n_epochs=1).sample(0)
    wrong = HistorySampler(store, nn.Linear(2, 3), 2, alpha=0, beta=0, n_epochs=1)
    with pytest.raises(ValueError, match="does not fit"):
        wrong.sample(4)


def test_auto_store_picks_memory_for_small_and_disk_for_large_generators() -> None:
    from historyad.config import HistoryConfig
    from historyad.training.budget import resolve_store

    small = torch.nn.Linear(10, 10)  # 110 values
    big = torch.nn.Linear(1000, 1000)  # ~1 M values = 4 MB per fp32 snapshot
    cfg = HistoryConfig(saves_per_epoch=50, alpha=1.0, memory_budget_mb=256.0)
    assert resolve_store(cfg, small, n_epochs=5.0, per_epoch=187).history_store == "memory"
    # 201 snapshots × 4 MB ≈ 800 MB > 256 MB
    assert resolve_store(cfg, big, n_epochs=5.0, per_epoch=187).history_store == "disk"
    half = HistoryConfig(saves_per_epoch=50, alpha=1.0, store_dtype="float16",
                         memory_budget_mb=500.0)
    assert resolve_store(half, big, n_epochs=5.0, per_epoch=187).history_store == "memory"
    assert resolve_store(HistoryConfig(history_store="memory"), big, n_epochs=5.0,
                         per_epoch=187).history_store == "memory"


def test_critic_average_without_snapshot_in_window_names_the_window() -> None:
    """A run too short for any critic snapshot inside [alpha, n_epochs] gives a ValueError
    naming the window (not the averager's internal RuntimeError)."""
    import pytest
    import torch

    from historyad.config import GANConfig, HistoryConfig, NetConfig
    from historyad.training.trainer import train_gan

    X = torch.rand(100, 4) * 2 - 1
    run = train_gan(X, GANConfig(n_epochs=0.5, n_critic=1), NetConfig(width=8),
                    HistoryConfig(saves_per_epoch=2, alpha=0.0, beta=0.0))
    with pytest.raises(ValueError, match=r"history window \[alpha=0.0, n_epochs=0.5\]"):
        run.critic_average()
