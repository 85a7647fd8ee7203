"""Recipe: MLE pretraining then SeqGAN fine-tuning on COCO image captions, evaluated as the papers report.

Runs `textgan train --config coco` (word-level vocabulary from the training captions, as the published tables
used), then evaluates the MLE checkpoint and the adversarial one on the 10,000 test captions:
  - NLL per token and perplexity of the test captions (never the training file);
  - test-BLEU-2..5 of N samples with ALL test captions as references, nltk Treebank tokenization (the published
    tables' convention), and self-BLEU-2..5 of the same samples (leave-one-out, all N samples);
and prints them beside the published rows (RelGAN Table 2 / Texygen).

    python scripts/coco_seqgan.py [--samples 2000] [--data-dir ../shared/data/coco] [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import textgan
from textgan.data.corpus import read_lines
from textgan.evaluation.bleu import self_bleu, test_bleu
from textgan.evaluation.text_metrics import tokenize_for_bleu

PUBLISHED = {  # BLEU-2..5 and self-BLEU-2..5 (RelGAN Table 2 / Texygen)
    "published MLE": ([0.731, 0.497, 0.305, 0.189], [0.916, 0.769, 0.583, 0.408]),
    "published SeqGAN": ([0.745, 0.498, 0.294, 0.180], [0.950, 0.840, 0.670, 0.489]),
}


def evaluate_checkpoint(path: Path, test_lines: list[str], references: list[list[str]], num_samples: int,
                        seed: int) -> dict[str, float]:
    """Test NLL / perplexity, test-BLEU-2..5 and self-BLEU-2..5 of one checkpoint."""
    loaded = textgan.load(path, "cpu")
    nll = loaded.score(test_lines)
    samples = tokenize_for_bleu(loaded.sample(num_samples, seed=seed), "treebank")
    bleu = test_bleu(samples, references).scores
    diversity = self_bleu(samples).scores
    out = {"nll_test": nll["nll"], "ppl_test": nll["ppl"]}
    out.update({f"bleu{n}": bleu[n] for n in (2, 3, 4, 5)})
    out.update({f"self_bleu{n}": diversity[n] for n in (2, 3, 4, 5)})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2000, help="samples for BLEU and self-BLEU (default 2000)")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared/data/coco"),
                        help="folder with image_coco.txt and test_coco.txt")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed for evaluation")
    parser.add_argument("overrides", nargs="*", help="extra config overrides KEY=VALUE (e.g. run.dir=...)")
    args = parser.parse_args()
    if args.samples < 2:
        parser.error("--samples must be at least 2 (self-BLEU scores each sample against the others)")
    data_dir = Path(args.data_dir)
    overrides = [f"data.train={data_dir / 'image_coco.txt'}", f"data.test={data_dir / 'test_coco.txt'}",
                 *args.overrides]
    start = time.time()
    textgan.train("coco", overrides, resume=True)
    train_time = time.time() - start
    run = Path(textgan.config("coco", overrides).run.dir)
    test_lines, _ = read_lines(str(data_dir / "test_coco.txt"), "test")
    references = tokenize_for_bleu(test_lines, "treebank")
    rows = {}
    for label, name in (("textgan MLE", "mle.pt"), ("textgan SeqGAN", "adversarial.pt")):
        rows[label] = evaluate_checkpoint(run / "checkpoints" / name, test_lines, references, args.samples, args.seed)
    eval_time = time.time() - start - train_time
    (run / "results.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(f"\nCOCO captions: {args.samples} samples, all {len(references)} test captions as references, Treebank "
          f"tokenization; training {train_time:.0f} s this invocation, evaluation {eval_time:.0f} s")
    print(f"{'':18}{'NLL-test':>9}{'PPL':>8}  {'BLEU-2':>7}{'-3':>7}{'-4':>7}{'-5':>7}  "
          f"{'selfB-2':>8}{'-3':>7}{'-4':>7}{'-5':>7}")
    for label, r in rows.items():
        print(f"{label:18}{r['nll_test']:>9.3f}{r['ppl_test']:>8.1f}  "
              + "".join(f"{r[f'bleu{n}']:>7.3f}" for n in (2, 3, 4, 5)) + "  "
              + "".join(f"{r[f'self_bleu{n}']:>{7 if n > 2 else 8}.3f}" for n in (2, 3, 4, 5)))
    for label, (bleu, selfb) in PUBLISHED.items():
        print(f"{label:18}{'':>9}{'':>8}  " + "".join(f"{v:>7.3f}" for v in bleu) + "  "
              + "".join(f"{v:>7.3f}" if i else f"{v:>8.3f}" for i, v in enumerate(selfb)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
