"""`corrupted`: synthetic anomalies made by adding gaussian noise to normal test samples."""

from __future__ import annotations

import numpy as np

from historyad.protocols.split import Split, split_sizes


def corrupted(
    X_test_normal: np.ndarray,
    *,
    sigma: float,
    seed: int = 0,
    clip: bool = True,
    X_train: np.ndarray | None = None,
    name: str = "corrupted",
) -> Split:
    """Normal test images (label 0) plus noisy copies ``x + σ·N(0, I)`` (label 1).

    Args:
        X_test_normal: (N, ...) normal samples in [-1, 1].
        sigma: noise standard deviation (> 0).
        clip: clip the noisy copies to [-1, 1].
        X_train: the training normals to carry in the Split; None gives an empty (0, ...) array.
            Typical use: ``s = one_class(...)``, then
            ``corrupted(s.X_test[s.y_test == 0], sigma=0.5, X_train=s.X_train)``.

    Returns:
        a Split with 2N test samples: the originals first, then their noisy copies.
    """
    X = np.asarray(X_test_normal, dtype=np.float32)
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"X_test_normal has shape {X.shape}; allowed is (N >= 1, ...)")
    if not sigma > 0:
        raise ValueError(f"sigma={sigma!r} is not allowed; it must be > 0")
    rng = np.random.default_rng(seed)
    noisy = X + np.float32(sigma) * rng.standard_normal(X.shape, dtype=np.float32)
    if clip:
        noisy = np.clip(noisy, -1.0, 1.0)
    X_test = np.concatenate([X, noisy])
    y_test = np.concatenate([np.zeros(len(X), np.int64), np.ones(len(X), np.int64)])
    train = (
        np.zeros((0, *X.shape[1:]), np.float32)
        if X_train is None
        else np.asarray(X_train, np.float32)
    )
    meta = {"protocol": "corrupted", "sigma": sigma, "seed": seed, "clip": clip}
    meta.update(split_sizes(train, y_test))
    return Split(train, X_test, y_test, f"{name}/noise-{sigma:g}", meta)


__all__ = ["corrupted"]
