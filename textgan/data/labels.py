"""Class labels of labelled text: the label set (names, ids, priors), parsing `label<TAB>sentence` lines, and
seeded splits stratified by class.

A label set is plain data (`state()`: names and priors), stored with the run and in every checkpoint, so a trained
generator knows its classes without pickled code. Ids are positions in `names`, which are sorted, so the same
classes get the same ids whichever file form they came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from textgan.errors import UserError


@dataclass(frozen=True)
class LabelSet:
    """Class names in id order and their priors (shares of the training split)."""

    names: tuple[str, ...]
    priors: tuple[float, ...]

    @classmethod
    def from_training(cls, names: Sequence[str], labels: Sequence[int]) -> LabelSet:
        """The label set of training class ids `labels` over `names`; a class without sentences is an error."""
        counts = torch.bincount(torch.tensor(list(labels), dtype=torch.long), minlength=len(names)).tolist()
        empty = [name for name, count in zip(names, counts) if count == 0]
        if empty:
            raise UserError(f"class {empty[0]!r} has no training sentences; give it some or remove it "
                            f"(classes: {', '.join(names)})")
        total = sum(counts)
        return cls(tuple(names), tuple(count / total for count in counts))

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LabelSet:
        return cls(tuple(state["names"]), tuple(float(p) for p in state["priors"]))

    def state(self) -> dict[str, Any]:
        return {"names": list(self.names), "priors": list(self.priors)}

    def __len__(self) -> int:
        return len(self.names)

    def id(self, name: str) -> int:
        """The id of class `name`; a one-line error listing the classes for an unknown one."""
        if name not in self.names:
            raise UserError(f"unknown label {name!r}; this run's labels: {', '.join(self.names)}")
        return self.names.index(name)


def parse_labelled(lines: Sequence[str], source: str) -> tuple[list[str], list[str]]:
    """(labels, sentences) of `label<TAB>sentence` lines (blank lines already removed: errors count non-blank
    lines); one-line errors for a line without a TAB, an empty label or an empty sentence."""
    labels, sentences = [], []
    for number, line in enumerate(lines, 1):
        label, tab, sentence = line.partition("\t")
        where = f"{source}: non-blank line {number}"
        if not tab:
            raise UserError(f"{where} has no TAB; labelled data is one 'label<TAB>sentence' a line")
        if not label.strip():
            raise UserError(f"{where} has an empty label; write 'label<TAB>sentence'")
        if not sentence.strip():
            raise UserError(f"{where} (label {label.strip()!r}) has no sentence after the TAB")
        labels.append(label.strip())
        sentences.append(sentence.strip())
    return labels, sentences


def label_ids(names: Sequence[str], labels: Sequence[str], source: str) -> list[int]:
    """Class ids of label strings; a label not among `names` (the training classes) is a one-line error."""
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(labels) - index.keys())
    if unknown:
        raise UserError(f"{source}: unknown label {unknown[0]!r} (not in the training data); "
                        f"labels: {', '.join(names)}")
    return [index[label] for label in labels]


def stratified_split(labels: Sequence[int], fractions: Sequence[float], seed: int) -> list[list[int]]:
    """Indices of len(fractions) + 1 disjoint parts: part k holds round(fractions[k] * n_c) of each class c's
    items (drawn by a generator seeded from `seed` and c), the last part the rest; each part in file order."""
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    for label, members in sorted(by_class.items()):
        order = torch.randperm(len(members), generator=torch.Generator().manual_seed(seed * 1009 + label)).tolist()
        start = 0
        for k, fraction in enumerate(fractions):
            count = round(fraction * len(members))
            parts[k].extend(members[j] for j in order[start:start + count])
            start += count
        parts[-1].extend(members[j] for j in order[start:])
    return [sorted(part) for part in parts]
