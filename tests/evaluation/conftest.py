"""A tiny synthetic caption corpus from a fixed grammar: the text-metric tests train LMs on it in seconds."""

from __future__ import annotations

import random

import pytest

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
