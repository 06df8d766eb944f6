"""The time law of the history mixture P_Ghist (HistoryAD, seed 000 eq. 13).

P_Ghist draws a training time t (in epochs) with density p(t) = c·1[α, n_epochs](t)·e^(−βt)
before it runs the generator snapshot G_t. β > 0 favours early times, β < 0 late ones, β = 0
is uniform on the window [α, n_epochs]. Everything here is exact in float64 (expm1 / log1p),
also for large |β|·(n_epochs − α). Re-exported by :mod:`historyad.training.history`.
"""

from __future__ import annotations

import math

import numpy as np

# Below this |β|·(n_epochs − α) the law of eq. 13 is treated as uniform (relative error ~1e-12).
_UNIFORM_BL = 1e-12
# Relative tolerance when testing whether a recorded time lies in [α, n_epochs].
_TIME_RTOL = 1e-9


def check_window(alpha: float, beta: float, n_epochs: float, *, allow_point: bool) -> None:
    """Raise ValueError unless α, β, n_epochs are finite, 0 <= α and α < n_epochs
    (α <= n_epochs with ``allow_point``: the point mass at α)."""
    for name, value in (("alpha", alpha), ("beta", beta), ("n_epochs", n_epochs)):
        if not isinstance(value, int | float | np.floating | np.integer) or not math.isfinite(
            value
        ):
            raise ValueError(f"{name}={value!r} is not allowed; it must be a finite number")
    if alpha < 0:
        raise ValueError(f"alpha={alpha!r} is not allowed; it must be >= 0 (epochs)")
    if n_epochs <= 0:
        raise ValueError(f"n_epochs={n_epochs!r} is not allowed; it must be > 0")
    if alpha > n_epochs or (alpha == n_epochs and not allow_point):
        bound = "<=" if allow_point else "<"
        raise ValueError(
            f"alpha={alpha!r} is not allowed with n_epochs={n_epochs!r}; "
            f"the window [alpha, n_epochs] needs alpha {bound} n_epochs"
        )


def in_window(t: np.ndarray, alpha: float, n_epochs: float) -> np.ndarray:
    """Boolean mask of times in [α, n_epochs] up to a relative tolerance of 1e-9."""
    lo = alpha - _TIME_RTOL * max(1.0, abs(alpha))
    hi = n_epochs + _TIME_RTOL * max(1.0, abs(n_epochs))
    return (t >= lo) & (t <= hi)


def within_window(t: float, lo: float, hi: float) -> bool:
    """Scalar version of :func:`in_window`."""
    return bool(in_window(np.array([t], dtype=np.float64), lo, hi)[0])


def time_density(t: np.ndarray, *, alpha: float, beta: float, n_epochs: float) -> np.ndarray:
    """Normalised density of eq. 13, p(t) ∝ e^(−βt) on [α, n_epochs], 0 outside.

    Args:
        t: times in epochs, any shape.
    Returns:
        float64 array of the same shape as ``t``. Stable for any finite β (β = 0: uniform).
    """
    check_window(alpha, beta, n_epochs, allow_point=False)
    t = np.asarray(t, dtype=np.float64)
    length = n_epochs - alpha
    b = abs(beta)
    inside = (t >= alpha) & (t <= n_epochs)
    if b * length < _UNIFORM_BL:
        dens = np.full(t.shape, 1.0 / length)
    else:
        # u = distance from the end of the window where the density peaks.
        u = np.clip(t - alpha if beta > 0 else n_epochs - t, 0.0, length)
        dens = b * np.exp(-b * u) / -np.expm1(-b * length)
    return np.where(inside, dens, 0.0)


def time_cdf(t: np.ndarray, *, alpha: float, beta: float, n_epochs: float) -> np.ndarray:
    """Exact CDF of eq. 13 (0 below α, 1 above n_epochs); float64, same shape as ``t``."""
    check_window(alpha, beta, n_epochs, allow_point=False)
    t = np.clip(np.asarray(t, dtype=np.float64), alpha, n_epochs)
    length = n_epochs - alpha
    b = abs(beta)
    if b * length < _UNIFORM_BL:
        return (t - alpha) / length
    denom = np.expm1(-b * length)
    if beta > 0:
        return np.expm1(-b * (t - alpha)) / denom
    return 1.0 - np.expm1(-b * (n_epochs - t)) / denom


def sample_times(
    n: int, *, alpha: float, beta: float, n_epochs: float, rng: np.random.Generator
) -> np.ndarray:
    """``n`` exact inverse-CDF draws from eq. 13; float64 array of shape (n,) in [α, n_epochs].

    β = 0 (or |β|·(n_epochs − α) < 1e-12) is uniform; large |β| stays exact (expm1 / log1p).
    α == n_epochs is allowed and returns the point mass at α.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n={n!r} is not allowed; it must be an int >= 0")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng={rng!r} is not allowed; pass a numpy.random.Generator")
    check_window(alpha, beta, n_epochs, allow_point=True)
    length = n_epochs - alpha
    if length == 0:
        return np.full(int(n), float(alpha))
    uniform = rng.random(int(n))
    b = abs(beta)
    if b * length < _UNIFORM_BL:
        return np.clip(alpha + uniform * length, alpha, n_epochs)
    # Truncated exponential on [0, L] for the distance u from the density's peak.
    u = -np.log1p(uniform * np.expm1(-b * length)) / b
    u = np.clip(u, 0.0, length)
    t = alpha + u if beta > 0 else n_epochs - u
    return np.clip(t, alpha, n_epochs)


__all__ = ["sample_times", "time_cdf", "time_density"]
