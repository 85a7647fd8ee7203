"""Recipe: professor forcing vs continued MLE on COCO image captions, for the same number of generator steps.

Three stages through the CLI, in RUN (default runs/professor/coco):
  1. `textgan pretrain --config coco_professor`: MLE pretraining -> RUN/mle/checkpoints/mle.pt;
  2. professor arm: `textgan train --init-from RUN/mle/checkpoints/mle.pt` (D pretraining, then
     adversarial.rounds x g_steps generator steps, each NLL + professor-forcing term on one real batch);
  3. MLE arm: the same `textgan train --init-from ...` with g_steps=0, mle_steps=<the professor arm's g_steps>,
     d_steps=0, d_pretrain.rounds=0: the same number of generator updates, on the same real batches in the same
     order (the loop draws them from one seeded stream), the same learning rate, clip and fresh Adam state; only
     the loss differs.
A stage whose checkpoint exists is reused. The training runs leave out the test file (`data.test=`), so the
loops do no periodic test evaluation; every checkpoint is evaluated here once, the same way:
  - NLL per token / perplexity of the run's validation split and of the 10,000 test captions;
  - test-BLEU-2..5 (all test captions as references) and self-BLEU-2..5 of N samples of at most the training
    max_len tokens, nltk Treebank tokenization, one sampling seed for all checkpoints;
  - long samples: N samples of at most 2 x max_len tokens, test-BLEU-2..5 by sample-length bucket.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python scripts/coco_professor_vs_mle.py [--run DIR] [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import textgan
from textgan.data.corpus import read_lines
from textgan.evaluation.bleu import self_bleu, test_bleu
from textgan.evaluation.text_metrics import tokenize_for_bleu
from textgan.training.metrics_log import read_metrics

ORDERS = (2, 3, 4, 5)
BUCKETS = ((1, 10), (11, 15), (16, 20), (21, 40), (41, None))  # sample length in Treebank tokens, inclusive


def run_stage(name: str, checkpoint: Path, overrides: list[str], times: dict[str, float],
              init_from: Path | None = None) -> None:
    """Run one stage (MLE alone without `init_from`) unless its checkpoint already exists; record its wall time."""
    if checkpoint.is_file():
        print(f"[{name}] reusing {checkpoint}", flush=True)
        return
    print(f"[{name}] coco_professor {' '.join(overrides)}", flush=True)
    start = time.time()
    if init_from is None:
        textgan.pretrain("coco_professor", overrides)
    else:
        textgan.train("coco_professor", overrides, init_from=init_from)
    times[name] = time.time() - start


def bleu_by_length(samples: list[list[str]], references: list[list[str]]) -> dict[str, dict[str, float]]:
    """Test-BLEU-2..5 and the number of samples in each length bucket (empty buckets left out)."""
    out = {}
    for low, high in BUCKETS:
        chosen = [s for s in samples if low <= len(s) and (high is None or len(s) <= high)]
        if chosen:
            scores = test_bleu(chosen, references, ORDERS).scores
            out[f"{low}-{high or ''}"] = {"count": len(chosen), **{f"bleu{n}": scores[n] for n in ORDERS}}
    return out


def evaluate(checkpoint: Path, test_lines: list[str], references: list[list[str]], num_samples: int,
             seed: int) -> dict[str, Any]:
    """Validation / test perplexity, BLEU and self-BLEU, and BLEU by length of long samples, of one checkpoint."""
    loaded = textgan.load(checkpoint, "cpu")
    valid = textgan.build_data(loaded.cfg, None, loaded.payload["tokenizer"]).valid  # the run's seeded split
    out: dict[str, Any] = {"ppl_valid": textgan.evaluate_nll(loaded.generator, valid, 512, loaded.device)["ppl"],
                           "ppl_test": loaded.score(test_lines)["ppl"]}
    samples = tokenize_for_bleu(loaded.sample(num_samples, seed=seed), "treebank")
    bleu, diversity = test_bleu(samples, references, ORDERS).scores, self_bleu(samples, ORDERS).scores
    out.update({f"bleu{n}": bleu[n] for n in ORDERS})
    out.update({f"self_bleu{n}": diversity[n] for n in ORDERS})
    out["mean_len"] = sum(map(len, samples)) / len(samples)
    long = tokenize_for_bleu(loaded.sample(num_samples, max_len=2 * loaded.max_len, seed=seed + 1), "treebank")
    out["long_mean_len"] = sum(map(len, long)) / len(long)
    out["long_by_length"] = bleu_by_length(long, references)
    return out


def adversarial_summary(run: Path) -> dict[str, float]:
    """Means over the professor arm's rounds: D accuracy on G's batches, fraction of open gates, C_f."""
    records = [r for r in read_metrics(run / "metrics.jsonl") if r["event"] == "adversarial"]
    keys = ("d_acc", "gate_open", "c_f", "nll", "d_acc_real", "d_acc_fake")
    return {k: sum(r[k] for r in records) / len(records) for k in keys if records and k in records[0]}


def print_table(rows: dict[str, dict[str, Any]]) -> None:
    print(f"\n{'':22}{'PPL-valid':>10}{'PPL-test':>9}  {'BLEU-2':>7}{'-3':>7}{'-4':>7}{'-5':>7}  "
          f"{'sBLEU-2':>8}{'-3':>7}{'-4':>7}{'-5':>7}{'len':>6}")
    for label, r in rows.items():
        print(f"{label:22}{r['ppl_valid']:>10.2f}{r['ppl_test']:>9.2f}  "
              + "".join(f"{r[f'bleu{n}']:>7.3f}" for n in ORDERS) + " "
              + "".join(f"{r[f'self_bleu{n}']:>7.3f}" for n in ORDERS) + f"{r['mean_len']:>7.1f}")
    print("\nLong samples (max 2 x max_len): test-BLEU-2..5 by sample length, (count)")
    for label, r in rows.items():
        cells = [f"{bucket}: " + "/".join(f"{v[f'bleu{n}']:.3f}" for n in ORDERS) + f" ({v['count']})"
                 for bucket, v in r["long_by_length"].items()]
        print(f"  {label:20} mean len {r['long_mean_len']:.1f}  " + "  ".join(cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/professor/coco", help="folder for the three runs and results.json")
    parser.add_argument("--samples", type=int, default=2000, help="samples per BLEU measurement (default 2000)")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared/data/coco"),
                        help="folder with image_coco.txt and test_coco.txt")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed for evaluation")
    parser.add_argument("overrides", nargs="*", help="config overrides KEY=VALUE for every stage")
    args = parser.parse_args()
    if args.samples < 2:
        parser.error("--samples must be at least 2 (self-BLEU scores each sample against the others)")
    root, data_dir = Path(args.run), Path(args.data_dir)
    common = [f"data.train={data_dir / 'image_coco.txt'}", "data.test=", "run.progress=false", *args.overrides]
    cfg = textgan.config("coco_professor", common)
    steps = cfg.adversarial.rounds * cfg.adversarial.g_steps
    mle_ckpt = root / "mle" / "checkpoints" / "mle.pt"
    times: dict[str, float] = {}
    start = time.time()
    run_stage("MLE pretraining", mle_ckpt, [*common, f"run.dir={root / 'mle'}"], times)
    run_stage("professor arm", root / "professor" / "checkpoints" / "adversarial.pt",
              [*common, f"run.dir={root / 'professor'}"], times, init_from=mle_ckpt)
    run_stage("MLE arm", root / "mle_continued" / "checkpoints" / "adversarial.pt",
              [*common, f"run.dir={root / 'mle_continued'}", "adversarial.g_steps=0",
               f"adversarial.mle_steps={cfg.adversarial.g_steps}", "adversarial.d_steps=0", "d_pretrain.rounds=0"],
              times, init_from=mle_ckpt)
    test_lines, _ = read_lines(str(data_dir / "test_coco.txt"), "test")
    references = tokenize_for_bleu(test_lines, "treebank")
    eval_start = time.time()
    rows = {
        f"MLE pretrained ({cfg.pretrain.epochs} ep)": evaluate(mle_ckpt, test_lines, references, args.samples,
                                                               args.seed),
        f"+ MLE, {steps} steps": evaluate(root / "mle_continued" / "checkpoints" / "adversarial.pt", test_lines,
                                          references, args.samples, args.seed),
        f"+ professor, {steps} steps": evaluate(root / "professor" / "checkpoints" / "adversarial.pt", test_lines,
                                                references, args.samples, args.seed),
    }
    times["evaluation"] = time.time() - eval_start
    summary = adversarial_summary(root / "professor")
    result = {"rows": rows, "professor_training": summary, "times_s": times, "samples": args.samples,
              "references": len(references), "generator_steps": steps, "total_s": time.time() - start}
    (root / "results.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"\nCOCO captions, {args.samples} samples per measurement, all {len(references)} test captions as "
          f"references, Treebank tokenization; both arms {steps} generator steps from the same MLE checkpoint")
    print_table(rows)
    print("\nprofessor arm, mean over rounds: " + ", ".join(f"{k}={v:.3f}" for k, v in summary.items()))
    print("wall times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()) + f"; results in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
