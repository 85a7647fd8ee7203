"""Read local text corpora (one sentence per line) through the `datasets` library, offline.

Files are checked first (exists, glob matches, non-empty, UTF-8) so users get one-line errors instead of
tracebacks from deep inside `datasets`. Blank lines are dropped and counted. Without a validation file a seeded
fraction of the training split is held out.
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
            raise UserError(f"{role} file {path} is not UTF-8 text (truncated character at the end); convert it") from None


def read_splits(train: str, valid: str, test: str, *, valid_fraction: float, seed: int,
                cache_dir: str | None) -> TextSplits:
    """Load train/valid/test lines with `datasets.load_dataset("text")`; carve valid from train if not given."""
    import datasets

    if not sys.stderr.isatty():
        datasets.disable_progress_bars()
    data_files = {"train": expand_files(train, "train")}
    if valid:
        data_files["validation"] = expand_files(valid, "valid")
    if test:
        data_files["test"] = expand_files(test, "test")
    loaded = datasets.load_dataset("text", data_files=data_files, cache_dir=cache_dir)
    blank: dict[str, int] = {}
    lines: dict[str, list[str]] = {}
    for split, dataset in loaded.items():
        texts = dataset["text"]
        kept = [t.strip() for t in texts if t.strip()]
        blank[split] = len(texts) - len(kept)
        lines[split] = kept
        if not kept:
            raise UserError(f"{split} data has only blank lines; give a file with one sentence per line")
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
        with open(name, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    lines.append(line.strip())
                else:
                    blank += 1
    if not lines:
        raise UserError(f"{role} {pattern} has only blank lines; give one sentence per line")
    return lines, blank
