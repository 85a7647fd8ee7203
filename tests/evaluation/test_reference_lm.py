"""The reference-LM cache: trained once, then loaded (same weights); anything that changes the LM changes the key."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from textgan.data.batching import TokenData
from textgan.data.tokenizers import EOS_ID, WordTokenizer
from textgan.evaluation import reference_lm as module
from textgan.evaluation.language_model import LMRecipe
from textgan.evaluation.lm_score import lm_score
from textgan.evaluation.reference_lm import file_sha256, reference_lm, reference_lm_key

Captions = tuple[WordTokenizer, TokenData, TokenData]
TINY = LMRecipe(embedding_size=8, hidden_size=16, epochs=1, batch_size=32, lr=1e-2)


@pytest.fixture
def count_training(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls of the cache's `train_lm` (one entry per training)."""
    calls: list[int] = []
    real = module.train_lm

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "train_lm", counting)
    return calls


def test_second_call_loads_the_same_lm(tmp_path: Path, captions: Captions, count_training: list[int],
                                       one_thread: None) -> None:
    tokenizer, train, test = captions
    args = (tmp_path, "a" * 64, train, tokenizer.vocab_size, tokenizer.never_generated(), EOS_ID)
    trained = reference_lm(*args, recipe=TINY, seed=0)
    assert len(count_training) == 1 and len(list(tmp_path.glob("reference_lm_*.pt"))) == 1
    loaded = reference_lm(*args, recipe=TINY, seed=0)
    assert len(count_training) == 1  # loaded, not retrained
    for key, value in trained.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert lm_score(loaded, test) == lm_score(trained, test)
    reference_lm(tmp_path, "b" * 64, *args[2:], recipe=TINY, seed=0)  # other training-file bytes
    assert len(count_training) == 2 and len(list(tmp_path.glob("reference_lm_*.pt"))) == 2


def test_an_unreadable_cache_file_is_retrained(tmp_path: Path, captions: Captions, count_training: list[int],
                                               one_thread: None) -> None:
    tokenizer, train, _ = captions
    args = (tmp_path, "a" * 64, train, tokenizer.vocab_size, tokenizer.never_generated(), EOS_ID)
    reference_lm(*args, recipe=TINY, seed=0)
    (path,) = tmp_path.glob("reference_lm_*.pt")
    path.write_bytes(b"not a torch file")
    reference_lm(*args, recipe=TINY, seed=0)
    assert len(count_training) == 2
    reference_lm(*args, recipe=TINY, seed=0)
    assert len(count_training) == 2  # the rewritten file loads again


def other_tokens(train: TokenData) -> TokenData:
    tokens = train.tokens.clone()
    tokens[0, 0] = tokens[1, 0] + 1 if tokens[0, 0] == tokens[1, 0] else tokens[1, 0]
    return TokenData(tokens, train.lengths)


CHANGES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "train_file_sha256": lambda base: "b" * 64,
    "train": lambda base: other_tokens(base["train"]),
    "vocab_size": lambda base: base["vocab_size"] + 1,
    "banned_ids": lambda base: [*base["banned_ids"], 3],
    "eos_id": lambda base: None,
    "recipe": lambda base: dataclasses.replace(base["recipe"], epochs=2),
    "seed": lambda base: 1,
}


@pytest.mark.parametrize("field", list(CHANGES))
def test_the_key_changes_with_everything_that_changes_the_lm(field: str, captions: Captions) -> None:
    tokenizer, train, _ = captions
    base: dict[str, Any] = {"train_file_sha256": "a" * 64, "train": train, "vocab_size": tokenizer.vocab_size,
                            "banned_ids": [0, 1], "eos_id": EOS_ID, "recipe": TINY, "seed": 0}
    copy = {**base, "train": TokenData(train.tokens.clone(), train.lengths.clone()), "banned_ids": [1, 0]}
    assert reference_lm_key(**copy) == reference_lm_key(**base)  # equal content, equal key
    assert reference_lm_key(**{**base, field: CHANGES[field](base)}) != reference_lm_key(**base)


@pytest.mark.parametrize("content, expected", [
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
])
def test_file_sha256(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "train.txt"
    path.write_bytes(content)
    assert file_sha256(path) == expected
