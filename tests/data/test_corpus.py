"""Text loading: line splitting, blank lines, validation carving, truncation, file errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from textgan.data.batching import encode_lines
from textgan.data.corpus import read_splits, read_text_lines
from textgan.data.tokenizers import EOS_ID, WordTokenizer
from textgan.errors import UserError


def test_blank_lines_dropped_and_counted(tmp_path: Path) -> None:
    train = tmp_path / "train.txt"
    train.write_text("a b\n\nc d\n   \ne f\n" * 20, encoding="utf-8")
    splits = read_splits(str(train), "", "", valid_fraction=0.1, seed=0, cache_dir=str(tmp_path / "cache"))
    assert splits.blank_lines["train"] == 40
    assert len(splits.train) + len(splits.valid) == 60 and len(splits.valid) == 6
    again = read_splits(str(train), "", "", valid_fraction=0.1, seed=0, cache_dir=str(tmp_path / "cache"))
    assert again.valid == splits.valid  # seeded carve


def test_truncation_keeps_eos() -> None:
    tok = WordTokenizer.fit(["a b c d e f"])
    data = encode_lines(["a b c d e f", "a b"], tok.encode, max_len=4)
    assert data.truncated == 1
    assert data.tokens[0].tolist() == [tok.index["a"], tok.index["b"], tok.index["c"], EOS_ID]
    assert data.lengths.tolist() == [4, 3]


@pytest.mark.parametrize("content, pattern, message", [
    (None, "missing.txt", "does not exist"),
    (b"", "empty.txt", "is empty"),
    (b"caf\xe9\n", "latin.txt", "is not UTF-8"),
    (None, "nothing*.txt", "matches no file"),
])
def test_file_errors(tmp_path: Path, content: bytes | None, pattern: str, message: str) -> None:
    if content is not None:
        (tmp_path / pattern).write_bytes(content)
    with pytest.raises(UserError, match=message):
        read_splits(str(tmp_path / pattern), "", "", valid_fraction=0.1, seed=0, cache_dir=str(tmp_path / "c"))


@pytest.mark.parametrize("text, lines", [
    ("a\nb\n", ["a", "b"]),
    ("a\r\nb", ["a", "b"]),  # CRLF, no final newline
    ("a\u0085b\u2028c\x0cd\x1ce\n\n", ["a\u0085b\u2028c\x0cd\x1ce", ""]),  # only "\n" splits
    ("\n", [""]),
])
def test_read_text_lines_splits_on_newline_only(tmp_path: Path, text: str, lines: list[str]) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(text.encode("utf-8"))
    assert read_text_lines(path) == lines
