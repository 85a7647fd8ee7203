"""Recipe: REINFORCE (SeqGAN) against Gumbel-softmax (RelGAN-style) on the synthetic oracle, from one MLE generator.

    (1) textgan pretrain --config oracle_budget                              -> ROOT/mle        (shared MLE)
    (2) textgan train --config oracle_budget --init-from ROOT/mle/.../mle.pt -> ROOT/reinforce  (D pretraining, rounds)
    (3) textgan train --config oracle_gumbel --init-from ROOT/mle/.../mle.pt -> ROOT/gumbel     (RelGAN: no D
                                                                                                 pretraining)

then prints NLL-oracle and NLL-test after MLE and after adversarial training for both arms, with the wall time
of each step. Every step runs with --resume, so a rerun continues (or just re-reads) what is done.
`--quick` shrinks every phase to fit ~15 minutes on a shared 2-core CPU (MLE far from converged: compare the
arms with each other, not with the paper). Extra KEY=VALUE overrides apply to all three steps.

    python scripts/oracle_gumbel_vs_reinforce.py [--quick] [--threads 1] [--run-dir ROOT] [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import textgan
from textgan.training.checkpoint import load_checkpoint
from textgan.training.metrics_log import read_metrics

# --quick: the same protocol, shorter. Shared: a smaller test set and evaluation sample (same in every step, so the
# NLL-test figures compare). The arms get roughly equal wall time: a Gumbel round (1 G step + 5 D batches of 64)
# costs ~1/10 of a REINFORCE round (16 rollouts per prefix + a 2,000-sample D epoch) here.
QUICK_SHARED = ["data.oracle.num_test=2000", "evaluation.num_samples=2000"]
QUICK = {
    "mle": ["pretrain.epochs=8"],
    "reinforce": ["d_pretrain.rounds=2", "d_pretrain.num_samples=5000", "adversarial.rounds=6",
                  "adversarial.d_num_samples=2000", "adversarial.eval_every=100"],
    "gumbel": ["adversarial.rounds=80", "adversarial.eval_every=1000"],
}
CONFIGS = {"mle": "oracle_budget", "reinforce": "oracle_budget", "gumbel": "oracle_gumbel"}


def last_scored(run: Path, event: str) -> dict[str, float]:
    """The last `event` record of a run that carries NLL-oracle."""
    rows = [r for r in read_metrics(run / "metrics.jsonl") if r["event"] == event and "nll_oracle" in r]
    return rows[-1] if rows else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the ~15-minute version (see QUICK in this file)")
    parser.add_argument("--run-dir", default="runs/oracle_gumbel_vs_reinforce", help="root of the three runs")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default; 1 is faster for these small models on a busy CPU)")
    parser.add_argument("overrides", nargs="*", help="extra config overrides KEY=VALUE for every step")
    args = parser.parse_args()
    if args.threads < 0:
        parser.error("--threads must be 0 (torch's default) or more")
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(args.run_dir)
    shared = (QUICK_SHARED if args.quick else []) + list(args.overrides)
    mle_checkpoint = root / "mle" / "checkpoints" / "mle.pt"
    wall: dict[str, float] = {}
    for step in ("mle", "reinforce", "gumbel"):
        overrides = shared + (QUICK[step] if args.quick else []) + [f"run.dir={root / step}", "run.progress=false"]
        start = time.time()
        if step == "mle":
            textgan.pretrain(CONFIGS[step], overrides, resume=True)
        else:
            textgan.train(CONFIGS[step], overrides, resume=True, init_from=mle_checkpoint)
        wall[step] = time.time() - start

    mle = last_scored(root / "mle", "mle")
    print(f"\nOracle: REINFORCE vs Gumbel-softmax from one MLE generator ({'quick' if args.quick else 'full'} budget, "
          f"runs in {root}); wall time of this invocation's steps in seconds")
    print(f"{'':26}{'after MLE':>20}{'after adversarial':>20}{'':>8}")
    print(f"{'':26}{'NLL-oracle':>11}{'NLL-test':>9}{'NLL-oracle':>11}{'NLL-test':>9}{'time':>8}")
    print(f"{'MLE (shared)':26}{mle.get('nll_oracle', float('nan')):>11.3f}{mle.get('nll_test', float('nan')):>9.3f}"
          f"{'':>20}{wall['mle']:>8.0f}")
    for step, name in (("reinforce", "REINFORCE (SeqGAN)"), ("gumbel", "Gumbel-softmax (RelGAN)")):
        before = load_checkpoint(root / step)["progress"].get("mle_metrics", {})  # this arm's own MLE evaluation
        after = last_scored(root / step, "adversarial")
        print(f"{name:26}{before.get('nll_oracle', float('nan')):>11.3f}{before.get('nll_test', float('nan')):>9.3f}"
              f"{after.get('nll_oracle', float('nan')):>11.3f}{after.get('nll_test', float('nan')):>9.3f}"
              f"{wall[step]:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
