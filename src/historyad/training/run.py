"""The result of :func:`historyad.training.train_gan`: :class:`GANRun`.

The final generator and critic (eval mode), the resolved configs, one record per generator
iteration (``RECORD_KEYS``) and, when a history was recorded (HistoryAD, seed 000 §3.2), the
:class:`~historyad.training.history.HistoryRecorder` with the generator snapshots and the
critic average of eq. 14. Re-exported by :mod:`historyad.training.trainer`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import save_file
from torch import nn

from historyad.config import GANConfig, HistoryConfig, NetConfig, to_dict
from historyad.training._atomic import atomic_path

if TYPE_CHECKING:
    from historyad.training.history import HistoryRecorder, HistorySampler

# keys of GANRun.records, one value per generator iteration
RECORD_KEYS = (
    "gen_iter",
    "epoch",
    "critic_loss",
    "wasserstein",
    "gradient_penalty",
    "generator_loss",
)


@dataclass
class GANRun:
    """A trained GAN: final networks (eval mode), configs, per-iteration records, history."""

    generator: nn.Module
    critic: nn.Module
    input_shape: tuple[int, ...]
    latent_dim: int
    gan_config: GANConfig
    net_config: NetConfig
    history_config: HistoryConfig | None
    records: dict[str, list[float]]
    recorder: HistoryRecorder | None
    iters_per_epoch: int
    fit_seconds: float
    checkpoint: Path | None = field(default=None)  # last checkpoint written or read

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    def save(self, path: str | Path) -> Path:
        """Write the final generator and critic (and the eq. 14 critic average when a
        history was recorded) to one safetensors file whose metadata holds the resolved
        configs as JSON. No pickle; load with ``safetensors.torch.load_file``. The file is
        written under a temporary name and renamed into place (a crash leaves the previous
        file, or none, never half a file)."""
        path = Path(path)
        tensors = {f"generator.{k}": v for k, v in self.generator.state_dict().items()}
        tensors |= {f"critic.{k}": v for k, v in self.critic.state_dict().items()}
        if self.recorder is not None and self.recorder.average.count:
            tensors |= {f"critic_average.{k}": v for k, v in self.critic_average().items()}
        tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        meta = {
            "format": "historyad-gan",
            "input_shape": list(self.input_shape),
            "latent_dim": self.latent_dim,
            "gan_config": to_dict(self.gan_config),
            "net_config": to_dict(self.net_config),
            "history_config": to_dict(self.history_config) if self.history_config else None,
            "generator_iterations": len(self.records.get("gen_iter", [])),
            "fit_seconds": self.fit_seconds,
        }
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"historyad": json.dumps(meta, default=str)})
        return path

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, batch_size: int = 1024) -> torch.Tensor:
        """n samples (n, *input_shape) of the final generator, on its device; z ~ N(0, I)."""
        if n < 0:
            raise ValueError(f"n={n!r} is not allowed; it must be >= 0")
        gen = torch.Generator(device=self.device)
        gen.manual_seed(int(seed))
        was_training = self.generator.training
        self.generator.eval()
        try:
            parts = []
            for start in range(0, n, batch_size):
                m = min(batch_size, n - start)
                z = torch.randn(m, self.latent_dim, generator=gen, device=self.device)
                parts.append(self.generator(z))  # (m, L) -> (m, *input_shape)
        finally:
            self.generator.train(was_training)
        if not parts:
            return torch.empty((0, *self.input_shape), device=self.device)
        return torch.cat(parts)

    def _require_recorder(self) -> HistoryRecorder:
        if self.recorder is None:
            raise ValueError(
                "this GANRun has no generator history: train with history=HistoryConfig(...)"
            )
        return self.recorder

    def history_sampler(
        self,
        *,
        alpha: float | None = None,
        beta: float | None = None,
        case: int = 1,
        wide_std: float = 2.0,
    ) -> HistorySampler:
        """A sampler of P_Ghist over the recorded generator snapshots (seed 000 §3.2).

        alpha / beta default to ``history_config``; the sampler's generator is a copy-free
        reuse of this run's generator module (loaded with snapshot weights on demand).
        """
        from historyad.training.history import HistorySampler

        recorder = self._require_recorder()
        assert self.history_config is not None
        return HistorySampler(
            recorder.store,
            self.generator,
            self.latent_dim,
            alpha=self.history_config.alpha if alpha is None else alpha,
            beta=self.history_config.beta if beta is None else beta,
            n_epochs=self.gan_config.n_epochs,
            case=case,
            wide_std=wide_std,
            device=str(self.device),
        )

    def critic_average(self) -> dict[str, torch.Tensor]:
        """The e^(−βt)-weighted average of the critic's weights over training (eq. 14).
        Raises ValueError when no critic snapshot fell inside the history window."""
        recorder = self._require_recorder()
        if recorder.average.count == 0:
            hc = self.history_config
            raise ValueError(
                f"no critic snapshot was averaged: none was recorded inside the history window "
                f"[alpha={hc.alpha if hc else '?'}, n_epochs={self.gan_config.n_epochs}] "
                f"({len(recorder.store)} generator snapshots in all); train for more "
                "generator iterations (n_epochs, min_iterations) or lower alpha"
            )
        return recorder.average.average()


__all__ = ["RECORD_KEYS", "GANRun"]
