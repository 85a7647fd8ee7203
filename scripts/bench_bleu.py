"""Benchmark textgan's test-BLEU / self-BLEU against nltk's sentence_bleu (the Texygen convention) on COCO.

Stand-in "generated samples" are the first N lines of the COCO training captions (image_coco.txt); references
are the 10,000 test captions (test_coco.txt). Tokenization is whitespace (str.split). nltk is far too slow to
run on all samples, so it is timed on a subset and extrapolated linearly (its cost per hypothesis is constant:
every call rescans the whole reference set); textgan's per-hypothesis scores are checked against nltk's on
that subset.

    .venv/bin/python scripts/bench_bleu.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from textgan.evaluation.bleu import self_bleu, self_bleu_sentence_scores, sentence_bleu_scores, test_bleu  # noqa: E402
from textgan.evaluation.text_metrics import tokenize_for_bleu  # noqa: E402

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/coco"


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time (s) over `repeats` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def nltk_scores(pairs: list[tuple[list[list[str]], list[str]]], orders: list[int]) -> dict[int, list[float]]:
    """Texygen-style: one nltk sentence_bleu call per (hypothesis, order) with method1 smoothing."""
    smooth = SmoothingFunction().method1
    scores: dict[int, list[float]] = {}
    for n in orders:
        weights = tuple(1.0 / n for _ in range(n))
        scores[n] = [sentence_bleu(refs, hyp, weights, smoothing_function=smooth) for refs, hyp in pairs]
    return scores


def max_abs_diff(a: dict[int, list[float]], b: dict[int, list[float]]) -> float:
    """Largest |a - b| over all orders and hypotheses."""
    return max(abs(x - y) for n in a for x, y in zip(a[n], b[n], strict=True))


def main() -> None:
    """Parse arguments, run the timings and print a report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="folder with image_coco.txt and test_coco.txt (default: %(default)s)")
    parser.add_argument("--num-samples", type=int, default=2000,
                        help="stand-in generated samples: first N training captions (default: %(default)s)")
    parser.add_argument("--nltk-subset", type=int, default=20,
                        help="hypotheses scored by nltk for timing/checking, then extrapolated (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timing repeats for textgan, median reported (default: %(default)s)")
    parser.add_argument("--orders", type=int, nargs="+", default=[2, 3, 4, 5], help="BLEU orders (default 2 3 4 5)")
    args = parser.parse_args()

    if args.num_samples < 2 or not 1 <= args.nltk_subset <= args.num_samples or args.repeats < 1:
        parser.error("need --num-samples >= 2, 1 <= --nltk-subset <= --num-samples and --repeats >= 1")
    train_file, test_file = args.data_dir / "image_coco.txt", args.data_dir / "test_coco.txt"
    for f in (train_file, test_file):
        if not f.is_file():
            parser.error(f"missing {f}; point --data-dir at the folder holding the COCO caption files")
    samples = tokenize_for_bleu(train_file.read_text().splitlines()[: args.num_samples], "whitespace")
    refs = tokenize_for_bleu(test_file.read_text().splitlines(), "whitespace")
    k, orders, n_samples = args.nltk_subset, args.orders, len(samples)
    print(f"data: {n_samples} samples (first lines of {train_file.name}) vs {len(refs)} references "
          f"({test_file.name}); whitespace tokenization; BLEU orders {orders}; method1 smoothing")

    # --- test-BLEU -------------------------------------------------------------------------------------------
    t_ours, result = timed(lambda: test_bleu(samples, refs, orders), args.repeats)
    print(f"\n[test-BLEU] textgan test_bleu, all {n_samples} hypotheses x {len(refs)} refs: "
          f"{t_ours:.3f} s (median of {args.repeats}, includes building the reference n-gram table)")
    print("  scores: " + ", ".join(f"BLEU-{n}={v:.6f}" for n, v in result.scores.items()))
    start = time.perf_counter()
    expected = nltk_scores([(refs, hyp) for hyp in samples[:k]], orders)
    t_nltk = time.perf_counter() - start
    t_nltk_all = t_nltk * n_samples / k
    ours_subset = sentence_bleu_scores(samples[:k], refs, orders)
    print(f"  nltk sentence_bleu on {k} hypotheses (all refs, orders {orders}, one call per order): {t_nltk:.2f} s "
          f"-> EXTRAPOLATED to {n_samples}: {t_nltk_all:.0f} s ({t_nltk_all / 60:.1f} min)")
    print(f"  max |textgan - nltk| per-hypothesis score on those {k}: {max_abs_diff(ours_subset, expected):.3g}")
    print(f"  speed-up: {t_nltk_all / t_ours:.0f}x (goal >= 500x)")
    fast = test_bleu(samples, refs, orders, max_references=500)
    print("  Texygen get_bleu_fast style (first 500 refs): "
          + ", ".join(f"BLEU-{n}={v:.6f}" for n, v in fast.scores.items()))

    # --- self-BLEU -------------------------------------------------------------------------------------------
    t_self, result = timed(lambda: self_bleu(samples, orders), args.repeats)
    print(f"\n[self-BLEU] textgan self_bleu, each of {n_samples} samples vs the other {n_samples - 1}: "
          f"{t_self:.3f} s (median of {args.repeats})")
    print("  scores: " + ", ".join(f"self-BLEU-{n}={v:.6f}" for n, v in result.scores.items()))
    start = time.perf_counter()
    expected = nltk_scores([(samples[:i] + samples[i + 1 :], samples[i]) for i in range(k)], orders)
    t_nltk = time.perf_counter() - start
    t_nltk_all = t_nltk * n_samples / k
    ours_all = self_bleu_sentence_scores(samples, orders)
    ours_subset = {n: v[:k] for n, v in ours_all.items()}
    print(f"  nltk leave-one-out on {k} samples: {t_nltk:.2f} s -> EXTRAPOLATED to {n_samples}: {t_nltk_all:.0f} s")
    print(f"  max |textgan - nltk| per-sample score on those {k}: {max_abs_diff(ours_subset, expected):.3g}")
    print(f"  speed-up: {t_nltk_all / t_self:.0f}x")
    fast = self_bleu(samples, orders, max_hypotheses=500)
    print("  Texygen get_bleu_fast style (first 500 samples vs each other): "
          + ", ".join(f"self-BLEU-{n}={v:.6f}" for n, v in fast.scores.items()))


if __name__ == "__main__":
    main()
