"""A tiny synthetic caption corpus from a fixed grammar: the text-metric tests train LMs on it in seconds; MR15 for
the class classifier."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from textgan.data.batching import TokenData, encode_lines
from textgan.data.tokenizers import WordTokenizer

SUBJECTS = ["a man", "a woman", "a dog", "two cats", "the child", "a bird"]
VERBS = ["sits on", "stands near", "looks at", "walks past", "sleeps under"]
OBJECTS = ["a bench", "the table", "a red car", "the old tree", "a small house"]


def caption_lines(num: int, seed: int) -> list[str]:
    """`num` captions "<subject> <verb> <object>" drawn uniformly with `seed`."""
    draw = random.Random(seed)
    return [f"{draw.choice(SUBJECTS)} {draw.choice(VERBS)} {draw.choice(OBJECTS)}" for _ in range(num)]


@pytest.fixture(scope="session")
def captions() -> tuple[WordTokenizer, TokenData, TokenData]:
    """The tokenizer fitted on 240 train captions, and the encoded train and 80 test captions (EOS appended)."""
    train_lines, test_lines = caption_lines(240, seed=1), caption_lines(80, seed=2)
    tokenizer = WordTokenizer.fit(train_lines)
    return (tokenizer, encode_lines(train_lines, tokenizer.encode, max_len=12),
            encode_lines(test_lines, tokenizer.encode, max_len=12))


MR_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "mr"
MR15 = tuple[WordTokenizer, TokenData, torch.Tensor, TokenData, torch.Tensor]


@pytest.fixture(scope="session")
def mr15() -> MR15:
    """MR's sentences of <= 15 whitespace tokens (pos = 0, neg = 1), a seeded class-stratified 10% test split:
    the word tokenizer fitted on the train split, train tokens and labels, test tokens and labels (EOS appended)."""
    if not all((MR_DIR / f"rt-polarity.{name}.txt").is_file() for name in ("pos", "neg")):
        pytest.skip(f"MR corpus not found at {MR_DIR}")
    draw = torch.Generator().manual_seed(0)
    train: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    for label, name in enumerate(("pos", "neg")):
        lines = (MR_DIR / f"rt-polarity.{name}.txt").read_text(encoding="utf-8").split("\n")
        kept = [line for line in lines if line.strip() and len(line.split()) <= 15]
        order = torch.randperm(len(kept), generator=draw).tolist()
        cut = round(0.1 * len(kept))
        test += [(kept[i], label) for i in order[:cut]]
        train += [(kept[i], label) for i in order[cut:]]
    tokenizer = WordTokenizer.fit([line for line, _ in train])

    def encoded(pairs: list[tuple[str, int]]) -> tuple[TokenData, torch.Tensor]:
        return (encode_lines([line for line, _ in pairs], tokenizer.encode, max_len=16),
                torch.tensor([label for _, label in pairs]))

    return (tokenizer, *encoded(train), *encoded(test))
