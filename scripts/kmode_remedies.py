"""Recipe: mode collapse on the K-mode benchmark, without and with each remedy, over seeds, from one MLE generator.

    (1) textgan pretrain --config kmode                                  -> ROOT/mle  (shared MLE generator)
    (2) per arm and seed: textgan train --config kmode[_gumbel] --init-from ROOT/mle/checkpoints/mle.pt
        run.seed=S ARM-OPTIONS                                           -> ROOT/ARM/seedS

then prints, per arm, the final kmode_valid, kmode_coverage, kmode_js and kmode_within_diversity as mean +- sd
over seeds, how many seeds collapsed by the threshold fixed before the runs: final coverage <= 0.5 (K/2 modes) or
JS >= 0.3 nats (the MLE start covers every mode), and the mean first adversarial round at which the threshold
was met (the run's length + 1 for a seed that never met it). Every run resumes, so a rerun re-reads what is done.

    python scripts/kmode_remedies.py [KEY=VALUE ...] [--seeds 0 1 2] [--arms NAME ...] [--run-dir ROOT]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import textgan
from textgan.training.metrics_log import read_metrics

ARMS: dict[str, tuple[str, list[str]]] = {
    "reinforce": ("kmode", []),
    "reinforce+minibatch": ("kmode", ["discriminator.minibatch_kernels=8"]),
    "reinforce+spectral": ("kmode", ["discriminator.spectral_norm=true"]),
    "reinforce+r1": ("kmode", ["discriminator.r1_weight=1.0"]),
    "gumbel": ("kmode_gumbel", []),
    "gumbel+unroll": ("kmode_gumbel", ["gumbel.unroll_steps=2"]),
}
KEYS = ("kmode_valid", "kmode_coverage", "kmode_js", "kmode_within_diversity")


def collapsed(row: dict[str, float]) -> bool:
    """The threshold fixed before the runs."""
    return row["kmode_coverage"] <= 0.5 or row["kmode_js"] >= 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--run-dir", default="runs/kmode_remedies")
    args, overrides = parser.parse_known_args()  # KEY=VALUE overrides anywhere on the line
    if any("=" not in item for item in overrides):
        parser.error(f"unrecognised arguments: {' '.join(x for x in overrides if '=' not in x)}")
    root = Path(args.run_dir)
    common = ["run.progress=false", *overrides]
    mle = root / "mle"
    textgan.pretrain("kmode", [*common, f"run.dir={mle}"], resume=(mle / "checkpoints").is_dir())
    print(f"{'arm':22s} " + " ".join(f"{k[6:]:>22s}" for k in KEYS) + "  collapsed  first round")
    for arm in args.arms:
        config, options = ARMS[arm]
        finals: list[dict] = []
        firsts: list[int] = []
        for seed in args.seeds:
            run = root / arm / f"seed{seed}"
            overrides = [*common, *options, f"run.seed={seed}", f"run.dir={run}"]
            if (run / "checkpoints").is_dir():
                textgan.train(config, overrides, resume=True)
            else:
                textgan.train(config, overrides, init_from=mle / "checkpoints" / "mle.pt")
            logged = read_metrics(run / "metrics.jsonl")
            rows = [r for r in logged if r["event"] == "adversarial" and "kmode_valid" in r]
            finals.append(rows[-1])
            firsts.append(next((int(r["step"]) for r in rows if collapsed(r)), int(rows[-1]["step"]) + 1))
        cells = []
        for key in KEYS:
            values = [float(row[key]) for row in finals]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} +- {sd:.3f}".rjust(22))
        print(f"{arm:22s} " + " ".join(cells) + f"  {sum(map(collapsed, finals))}/{len(finals)}".ljust(11)
              + f"{statistics.mean(firsts):.1f} +- {statistics.stdev(firsts) if len(firsts) > 1 else 0.0:.1f}",
              flush=True)


if __name__ == "__main__":
    main()
