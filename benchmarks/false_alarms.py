"""False alarms at a chosen rate on real data: split-conformal p-values (issue 15).

For each ADBench table: fit the detector once on half of the normal rows, score the other
normal rows and the anomalies; then, 200 times, draw a calibration set (199 normal rows)
and a test set (the other held-out normals) from the held-out half and record the share of
test normals with p <= alpha (the false-alarm rate) and of anomalies flagged (the recall).
The guarantee: the mean false-alarm rate is <= alpha on normals exchangeable with the
calibration set. Benjamini–Hochberg: the false-discovery proportion on a batch of 100
normals and 10 anomalies, calibrated on the other held-out normals (its guarantee: the
mean proportion is <= alpha).

    .venv/bin/python benchmarks/false_alarms.py --out benchmarks/results/false_alarms.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from historyad.data import load
from historyad.detectors.conformal import benjamini_hochberg, conformal_p_values
from historyad.detectors.registry import get_detector

DATA = str(Path(__file__).resolve().parents[2] / "shared" / "data")
SETS = ("12_fault", "22_magic.gamma", "35_SpamBase", "41_Waveform")


def run_set(name: str, detector: str, args: argparse.Namespace) -> dict[str, float]:
    ds = load("adbench", subset=name, root=args.data)
    X, y = ds.X.astype(np.float32), np.asarray(ds.y)
    rng = np.random.default_rng(args.seed)
    normal = rng.permutation(np.flatnonzero(y == 0))
    train, held = normal[: len(normal) // 2], normal[len(normal) // 2 :]
    det = get_detector(detector)(random_state=args.seed) if detector != "knn" else \
        get_detector(detector)()
    det.fit(X[train])
    s_held = det.decision_function(X[held])
    s_anom = det.decision_function(X[y == 1])
    far, recall, fdp, bh_found = [], [], [], []
    for seed in range(args.seeds):
        r = np.random.default_rng(1000 + seed).permutation(len(held))
        cal, test = s_held[r[: args.n_cal]], s_held[r[args.n_cal :]]
        far.append(float(np.mean(conformal_p_values(cal, test) <= args.alpha)))
        recall.append(float(np.mean(conformal_p_values(cal, s_anom) <= args.alpha)))
        # BH on a batch of 100 normals + 10 anomalies, calibrated on the other held-out
        # normals (BH needs p-values down to alpha/110: a calibration set of 199 cannot)
        cal_bh, normals = s_held[r[100:]], s_held[r[:100]]
        anomalies = s_anom[np.random.default_rng(seed).permutation(len(s_anom))[:10]]
        flagged = benjamini_hochberg(
            conformal_p_values(cal_bh, np.concatenate([normals, anomalies])), args.alpha)
        fdp.append(float(flagged[:100].sum() / max(1, flagged.sum())))
        bh_found.append(float(flagged[100:].mean()))
    return {"set": name, "detector": detector, "n_train": len(train), "n_held": len(held),
            "false_alarm_rate": float(np.mean(far)), "far_sd": float(np.std(far)),
            "recall": float(np.mean(recall)), "bh_fdr": float(np.mean(fdp)),
            "bh_recall": float(np.mean(bh_found))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DATA)
    p.add_argument("--detectors", nargs="+", default=["knn", "recommended"])
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--seeds", type=int, default=200)
    p.add_argument("--n-cal", type=int, default=199)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/false_alarms.json")
    args = p.parse_args()
    rows = [run_set(name, det, args) for name in SETS for det in args.detectors]
    Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    print(f"| set | detector | false-alarm rate at α={args.alpha:g} (sd over {args.seeds}) "
          "| anomalies flagged | BH false-discovery rate | BH anomalies found |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['set']} | {r['detector']} | {r['false_alarm_rate']:.4f} "
              f"({r['far_sd']:.3f}) | {r['recall']:.3f} | {r['bh_fdr']:.3f} | "
              f"{r['bh_recall']:.3f} |")


if __name__ == "__main__":
    main()
