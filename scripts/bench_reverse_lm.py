"""Time the new text metrics on COCO at the leaderboard's size, on one CPU thread.

Stand-in "samples" are N COCO training captions (image_coco.txt, word level, max_len 40); the real test data is
the 10,000 test captions (test_coco.txt). Times: the reverse-LM score (train the REVERSE_LM_RECIPE LM on the
samples, score the test file), sentence features of samples and test captions under an LM of the reference size,
FED, and MAUVE (samples against N test captions). Wall time on a busy machine exceeds CPU time. With --reference
also the reference LM's training on all 10,000 training captions (REFERENCE_LM_RECIPE, once per data set) and
its test NLL.

    .venv/bin/python scripts/bench_reverse_lm.py [--samples 2000] [--reference]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from textgan.data.batching import encode_lines  # noqa: E402
from textgan.data.tokenizers import EOS_ID, WordTokenizer  # noqa: E402
from textgan.evaluation.fed import fed, sentence_features  # noqa: E402
from textgan.evaluation.language_model import REFERENCE_LM_RECIPE, REVERSE_LM_RECIPE, train_lm  # noqa: E402
from textgan.evaluation.lm_score import lm_score, reverse_lm_score  # noqa: E402
from textgan.evaluation.mauve_score import mauve_score  # noqa: E402

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/coco"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--samples", type=int, default=2000, help="stand-in samples (default 2000)")
    parser.add_argument("--reference", action="store_true", help="also train the reference LM (minutes)")
    args = parser.parse_args()
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    missing = [name for name in ("image_coco.txt", "test_coco.txt") if not (args.data_dir / name).is_file()]
    if missing:
        sys.exit(f"bench_reverse_lm.py: {', '.join(missing)} not found in {args.data_dir}; pass --data-dir with "
                 "the COCO captions (see shared/data/coco/SOURCE.md)")
    torch.set_num_threads(1)
    train_lines = (args.data_dir / "image_coco.txt").read_text(encoding="utf-8").splitlines()
    test_lines = (args.data_dir / "test_coco.txt").read_text(encoding="utf-8").splitlines()
    tokenizer = WordTokenizer.fit(train_lines)
    train = encode_lines(train_lines, tokenizer.encode, max_len=40)
    test = encode_lines(test_lines, tokenizer.encode, max_len=40)
    if args.samples > len(train):
        sys.exit(f"bench_reverse_lm.py: --samples {args.samples} is more than the {len(train)} training captions")
    samples = train.subset(torch.arange(args.samples))
    print(f"vocabulary {tokenizer.vocab_size}, {len(samples)} samples of {samples.num_tokens() / len(samples):.1f} "
          f"tokens (EOS included), test {len(test)} captions, torch threads {torch.get_num_threads()}")
    vocab = (tokenizer.vocab_size, tokenizer.never_generated(), EOS_ID)

    start, cpu_start = time.perf_counter(), time.process_time()
    result = reverse_lm_score(samples, test, *vocab, seed=0)
    print(f"reverse-LM score {result['reverse_lm_score']:.4f}: {time.perf_counter() - start:.1f} s wall, "
          f"{time.process_time() - cpu_start:.1f} s CPU (recipe {REVERSE_LM_RECIPE})", flush=True)

    if args.reference:
        start = time.perf_counter()
        reference = train_lm(train, *vocab, recipe=REFERENCE_LM_RECIPE, seed=0)
        print(f"reference LM trained in {time.perf_counter() - start:.1f} s (recipe {REFERENCE_LM_RECIPE}); "
              f"LM score of the test file {lm_score(reference, test)['lm_score']:.4f}", flush=True)
    else:  # an untrained LM of the reference size: the same feature cost
        reference = train_lm(samples.subset(torch.arange(1)), *vocab, recipe=REFERENCE_LM_RECIPE, seed=0)

    start = time.perf_counter()
    sample_features = sentence_features(reference, samples)
    test_features = sentence_features(reference, test)
    print(f"sentence features ({len(samples)} + {len(test)}): {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    distance = fed(sample_features, test_features)["fed"]
    print(f"FED {distance:.4f}: {time.perf_counter() - start:.2f} s", flush=True)
    start = time.perf_counter()
    score = mauve_score(sample_features, test_features[:len(samples)], seed=0)
    print(f"MAUVE {score['mauve']:.4f} ({score['mauve_buckets']} buckets): {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
