"""Read local text corpora, one sentence per line.

Every text input (training data, references, samples) is split into lines by `read_text_lines`: on "\n" only,
so a U+0085 or U+2028 inside a sentence never splits it. Files are checked first (exists, glob matches,
non-empty, UTF-8) so users get one-line errors. Blank lines are dropped and counted. Without a validation file
a seeded fraction of the training split is held out (`datasets`' train_test_split, offline). Labelled text
(`read_labelled_splits`: `label<TAB>sentence` files, or one file or glob per class) goes through the same reader;
its held-out splits are stratified by class (`data/labels.py`).
"""

from __future__ import annotations

import codecs
import glob
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from textgan.data.labels import label_ids, parse_labelled, stratified_split
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
    test_from_train: bool = False
    # labelled data: the class names (sorted; ids are positions) and each split's class ids
    label_names: list[str] = field(default_factory=list)
    labels: dict[str, list[int]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)  # sentences `keep` refused, per file role


def _kept(sentences: list[str], ids: list[int] | None, keep: Callable[[str], bool] | None,
          dropped: dict[str, int], role: str) -> tuple[list[str], list[int] | None]:
    """The sentences (and their ids) `keep` accepts; the count of the others into dropped[role]."""
    if keep is None:
        return sentences, ids
    index = [i for i, sentence in enumerate(sentences) if keep(sentence)]
    dropped[role] = len(sentences) - len(index)
    return [sentences[i] for i in index], None if ids is None else [ids[i] for i in index]


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
                cache_dir: str | None = None, test_fraction: float = 0.0,
                keep: Callable[[str], bool] | None = None) -> TextSplits:
    """Train/valid/test lines (`read_lines`); valid carved from train, seeded, if not given (and test too, when
    not given and test_fraction > 0); `keep` filters every file's sentences before any split is carved.

    `cache_dir` is accepted for callers and unused: the lines are read directly, nothing is cached."""
    import datasets

    if not sys.stderr.isatty():
        datasets.disable_progress_bars()
    blank: dict[str, int] = {}
    lines: dict[str, list[str]] = {}
    dropped: dict[str, int] = {}
    for split, role, pattern in (("train", "train", train), ("validation", "valid", valid), ("test", "test", test)):
        if pattern:
            lines[split], blank[split] = read_lines(pattern, role)
            lines[split] = _kept(lines[split], None, keep, dropped, role)[0]
    test_carved = not test and test_fraction > 0
    if test_carved:
        test_part, rest = stratified_split([0] * len(lines["train"]), [test_fraction], seed)
        lines["test"], lines["train"] = [lines["train"][i] for i in test_part], [lines["train"][i] for i in rest]
    valid_lines = lines.get("validation")
    carved = valid_lines is None
    if carved:
        holdout = datasets.Dataset.from_dict({"text": lines["train"]}).train_test_split(
            test_size=valid_fraction, seed=seed, shuffle=True)
        lines["train"], valid_lines = holdout["train"]["text"], holdout["test"]["text"]
    return TextSplits(train=lines["train"], valid=valid_lines, test=lines.get("test", []),
                      blank_lines=blank, valid_from_train=carved, test_from_train=test_carved, dropped=dropped)


def read_labelled_splits(train: str, valid: str, test: str, classes: dict[str, str], *, valid_fraction: float,
                         test_fraction: float, seed: int,
                         keep: Callable[[str], bool] | None = None) -> TextSplits:
    """Labelled train/valid/test sentences: `label<TAB>sentence` files (train, valid, test), or one file or glob
    per class (`classes`, training data only). Valid (and, with test_fraction > 0, test) are carved from train
    when not given, seeded and stratified by class, after `keep` filtered every file's sentences; unknown and
    empty labels are one-line errors."""
    blank: dict[str, int] = {}
    dropped: dict[str, int] = {}
    if classes:
        empty = [name for name in classes if not str(name).strip()]
        if empty:
            raise UserError("data.classes has an empty label; name every class (data.classes.NAME=FILE)")
        names = sorted(classes)
        sentences, ids, blank["train"] = [], [], 0
        for index, name in enumerate(names):
            found, blanks = read_lines(classes[name], f"class {name}")
            sentences.extend(found)
            ids.extend([index] * len(found))
            blank["train"] += blanks
        raw = {"train": _kept(sentences, ids, keep, dropped, "train")}
    else:
        lines, blank["train"] = read_lines(train, "train", strip=False)
        labels, sentences = parse_labelled(lines, train)
        names = sorted(set(labels))
        raw = {"train": _kept(sentences, label_ids(names, labels, train), keep, dropped, "train")}
    for split, pattern in (("valid", valid), ("test", test)):
        if pattern:
            lines, blank[split] = read_lines(pattern, split, strip=False)
            labels, sentences = parse_labelled(lines, pattern)
            raw[split] = _kept(sentences, label_ids(names, labels, pattern), keep, dropped, split)
    carve = [split for split, fraction in (("test", test_fraction), ("valid", valid_fraction))
             if split not in raw and fraction > 0]
    sentences, ids = raw["train"]
    parts = stratified_split(ids, [test_fraction if s == "test" else valid_fraction for s in carve], seed)
    for split, part in zip([*carve, "train"], parts):
        raw[split] = ([sentences[i] for i in part], [ids[i] for i in part])
    test_sentences, test_ids = raw.get("test", ([], []))
    return TextSplits(train=raw["train"][0], valid=raw["valid"][0], test=test_sentences, blank_lines=blank,
                      valid_from_train="valid" in carve, test_from_train="test" in carve, label_names=names,
                      labels={"train": raw["train"][1], "valid": raw["valid"][1], "test": test_ids},
                      dropped=dropped)


def read_lines(pattern: str, role: str = "data", strip: bool = True) -> tuple[list[str], int]:
    """Non-blank lines of a file or glob (checked like training data), stripped unless `strip` is False (a
    labelled line's leading TAB matters), and the number of blank lines."""
    lines: list[str] = []
    blank = 0
    for name in expand_files(pattern, role):
        for line in read_text_lines(name):
            if line.strip():
                lines.append(line.strip() if strip else line)
            else:
                blank += 1
    if not lines:
        raise UserError(f"{role} {pattern} has only blank lines; give one sentence per line")
    return lines, blank
