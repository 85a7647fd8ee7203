"""A tiny synthetic caption corpus from a fixed grammar: the text-metric tests train LMs on it in seconds; MR15 for
the class classifier."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

import textgan
from textgan.api.builders import build_data
from textgan.data.batching import TokenData, encode_lines
from textgan.data.tokenizers import Tokenizer, WordTokenizer

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
MR15 = tuple[Tokenizer, TokenData, torch.Tensor, TokenData, torch.Tensor]


@pytest.fixture(scope="session")
def mr15() -> MR15:
    """MR15 as a run of the shipped `mr` config loads it (part A's loader: sentences of <= 15 words, the test and
    validation splits carved at load time, seeded and class-stratified; classes sorted: neg = 0, pos = 1): the
    word tokenizer fitted on the train split, train tokens and labels, test tokens and labels (EOS appended)."""
    if not all((MR_DIR / f"rt-polarity.{name}.txt").is_file() for name in ("pos", "neg")):
        pytest.skip(f"MR corpus not found at {MR_DIR}")
    cfg = textgan.config("mr", [f"data.classes.{name}={MR_DIR / f'rt-polarity.{name}.txt'}" for name in ("pos", "neg")])
    data = build_data(cfg, None)
    assert data.test is not None and data.train.labels is not None and data.test.labels is not None
    assert data.labels is not None and data.labels.names == ("neg", "pos")
    return data.tokenizer, data.train, data.train.labels, data.test, data.test.labels
