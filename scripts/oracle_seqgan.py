"""Recipe: the SeqGAN synthetic-oracle experiment (Yu et al. 2017, sec. 5.1, Table 1).

Runs `textgan train` with the CPU-budget config (default, < 30 min on 2 cores) or the paper's protocol
(`--paper`, many CPU hours), then prints NLL-oracle and NLL-test after MLE pretraining and after adversarial
training beside the paper's table, with the time of each phase. NLL-test (the generator's NLL of held-out oracle
data) shows whether a better NLL-oracle was bought with lost diversity.

    python scripts/oracle_seqgan.py [--paper] [--run-dir runs/oracle_budget] [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import textgan
from textgan.training.metrics_log import read_metrics

PAPER = {"random": 10.310, "MLE": 9.038, "scheduled sampling": 8.985, "PG-BLEU": 8.946, "SeqGAN": 8.736}


def summarise(run: Path) -> dict[str, float]:
    """Phase times and the last NLL-oracle / NLL-test of each phase, from metrics.jsonl."""
    records = read_metrics(run / "metrics.jsonl")
    out: dict[str, float] = {}
    for phase in ("mle", "d_pretrain", "adversarial"):
        rows = [r for r in records if r["event"] == phase]
        if rows:
            out[f"{phase}_end_time"] = rows[-1]["time"]
            scored = [r for r in rows if "nll_oracle" in r]
            if scored:
                out[f"{phase}_nll_oracle"] = scored[-1]["nll_oracle"]
                out[f"{phase}_nll_test"] = scored[-1]["nll_test"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paper", action="store_true", help="the paper's full protocol (oracle.yaml)")
    parser.add_argument("--run-dir", help="run directory (default: the config's)")
    parser.add_argument("overrides", nargs="*", help="extra config overrides KEY=VALUE")
    args = parser.parse_args()
    config = "oracle" if args.paper else "oracle_budget"
    overrides = list(args.overrides) + ([f"run.dir={args.run_dir}"] if args.run_dir else [])
    start = time.time()
    textgan.train(config, overrides, resume=True)
    run = Path(textgan.config(config, overrides).run.dir)
    s = summarise(run)
    print(f"\nSeqGAN oracle ({config}), wall time of this invocation {time.time() - start:.0f} s; "
          f"phase end times (s from start of run): MLE {s.get('mle_end_time', 0):.0f}, "
          f"D pretraining {s.get('d_pretrain_end_time', 0):.0f}, adversarial {s.get('adversarial_end_time', 0):.0f}")
    print(f"{'':24}{'NLL-oracle':>12}{'NLL-test':>10}")
    print(f"{'textgan MLE':24}{s.get('mle_nll_oracle', float('nan')):>12.3f}"
          f"{s.get('mle_nll_test', float('nan')):>10.3f}")
    print(f"{'textgan SeqGAN':24}{s.get('adversarial_nll_oracle', float('nan')):>12.3f}"
          f"{s.get('adversarial_nll_test', float('nan')):>10.3f}")
    for name, value in PAPER.items():
        print(f"{'paper ' + name:24}{value:>12.3f}{'':>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
