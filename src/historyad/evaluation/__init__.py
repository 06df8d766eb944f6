"""Evaluation: ranking metrics (`auprc`, `auroc`, `pr_curve`, `roc_curve`) and experiments."""

from __future__ import annotations

from historyad.evaluation.metrics import auprc, auroc, pr_curve, roc_curve

__all__ = ["auprc", "auroc", "pr_curve", "roc_curve"]
