"""Read local text corpora, one sentence per line.

Every text input (training data, references, samples) is split into lines by `read_text_lines`: on "\n" only,
so a U+0085 or U+2028 inside a sentence never splits it. Files are checked first (exists, glob matches,
non-empty, UTF-8) so users get one-line errors. Blank lines are dropped and counted. Without a validation file
a seeded fraction of the training split is held out (`datasets`' train_test_split, offline).
"""

from __future__ import annotations

import codecs
import glob
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from textgan.errors import UserError

# Nothing is ever fetched from a hub: the "text" builder ships with `datasets`, the files are local.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@dataclass
class TextSplits:
    """Sentences of each split (blank lines removed) and how many blank lines each file had."""

    train: list[str]
    valid: list[str]
    test: list[str]
    blank_lines: dict[str, int] = field(default_factory=dict)
    valid_from_train: bool = False


def expand_files(pattern: str, role: str) -> list[str]:
    """The files a path or glob names, each checked to exist, be non-empty and be UTF-8."""
    files = sorted(glob.glob(os.path.expanduser(pattern))) if glob.has_magic(pattern) else [pattern]
    if not files:
        raise UserError(f"{role} glob {pattern!r} matches no file; check the pattern (quote it in the shell)")
    for name in files:
        path = Path(os.path.expanduser(name))
        if not path.is_file():
            what = "is a directory, not a file" if path.is_dir() else "does not exist"
            raise UserError(f"{role} file {name} {what}; check the path (set data.{role}=PATH)")
        if path.stat().st_size == 0:
            raise UserError(f"{role} file {name} is empty; give a file with one sentence per line")
        _check_utf8(path, role)
    return [os.path.expanduser(f) for f in files]


def _check_utf8(path: Path, role: str) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                raise UserError(f"{role} file {path} is not UTF-8 text (bad byte at offset {offset + err.start}); "
                                f"convert it, e.g. iconv -f latin1 -t utf-8") from None
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise UserError(f"{role} file {path} is not UTF-8 text (truncated character at the end); "
                            f"convert it") from None


def read_text_lines(path: str | os.PathLike[str]) -> list[str]:
    """Every line of a UTF-8 file, split on "\\n" only, a trailing "\\r" removed (CRLF files read like LF ones)."""
    with open(path, encoding="utf-8", newline="") as handle:  # newline="": no universal-newline translation
        lines = handle.read().split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no new one
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_splits(train: str, valid: str, test: str, *, valid_fraction: float, seed: int,
                cache_dir: str | None = None) -> TextSplits:
    """Train/valid/test lines (`read_lines`); valid carved from train, seeded, if not given.

    `cache_dir` is accepted for callers and unused: the lines are read directly, nothing is cached."""
    import datasets

    if not sys.stderr.isatty():
        datasets.disable_progress_bars()
    blank: dict[str, int] = {}
    lines: dict[str, list[str]] = {}
    for split, role, pattern in (("train", "train", train), ("validation", "valid", valid), ("test", "test", test)):
        if pattern:
            lines[split], blank[split] = read_lines(pattern, role)
    valid_lines = lines.get("validation")
    carved = valid_lines is None
    if carved:
        holdout = datasets.Dataset.from_dict({"text": lines["train"]}).train_test_split(
            test_size=valid_fraction, seed=seed, shuffle=True)
        lines["train"], valid_lines = holdout["train"]["text"], holdout["test"]["text"]
    return TextSplits(train=lines["train"], valid=valid_lines, test=lines.get("test", []),
                      blank_lines=blank, valid_from_train=carved)


def read_lines(pattern: str, role: str = "data") -> tuple[list[str], int]:
    """Non-blank stripped lines of a file or glob (checked like training data) and the number of blank lines."""
    lines: list[str] = []
    blank = 0
    for name in expand_files(pattern, role):
        for line in read_text_lines(name):
            if line.strip():
                lines.append(line.strip())
            else:
                blank += 1
    if not lines:
        raise UserError(f"{role} {pattern} has only blank lines; give one sentence per line")
    return lines, blank
