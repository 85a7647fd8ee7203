"""Labelled text: both file forms load the same data, label errors are one line, MR and its mr15 filter, seeded
stratified splits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import write_two_class_corpus
from textgan.api.builders import PreparedData, build_data
from textgan.api.configs import config
from textgan.data.labels import LabelSet, stratified_split
from textgan.errors import UserError


def load(overrides: list[str], seed: int = 42) -> PreparedData:
    return build_data(config(None, ["data.source=text", f"run.seed={seed}", *overrides]), None)


def pairs(data: PreparedData, split: str) -> list[tuple[str, tuple[int, ...]]]:
    """(label name, token ids) of every sentence of a split, sorted."""
    part = getattr(data, split)
    assert data.labels is not None and part.labels is not None
    rows = [tuple(row[:n]) for row, n in zip(part.tokens.tolist(), part.lengths.tolist())]
    return sorted(zip([data.labels.names[i] for i in part.labels.tolist()], rows))


def labelled_file(files: dict[str, Path], path: Path) -> Path:
    """The class files as one label<TAB>sentence file, classes interleaved (each class keeps its own order)."""
    per_class = {name: f.read_text(encoding="utf-8").split("\n")[:-1] for name, f in files.items()}
    lines = [f"{name}\t{per_class[name][i]}" for i in range(len(per_class["pos"])) for name in ("pos", "neg")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("extra", [[], ["data.test_fraction=0.2"], ["data.long_sentences=drop", "data.max_len=5"]])
def test_both_labelled_forms_load_the_same_data(extra: list[str], tmp_path: Path) -> None:
    files = write_two_class_corpus(tmp_path)
    by_class = load([f"data.classes.{name}={path}" for name, path in files.items()] + extra)
    by_line = load(["data.format=labelled", f"data.train={labelled_file(files, tmp_path / 'all.tsv')}"] + extra)
    assert by_class.labels == by_line.labels and by_class.labels is not None
    assert by_class.labels.names == ("neg", "pos")
    assert by_class.tokenizer.state() == by_line.tokenizer.state()
    for split in ("train", "valid") + (("test",) if "data.test_fraction=0.2" in extra else ()):
        assert pairs(by_class, split) == pairs(by_line, split)
    assert by_class.report == by_line.report


def test_mapping_override_syntax_and_its_errors(tmp_path: Path) -> None:
    files = write_two_class_corpus(tmp_path)
    flow = config(None, ["data.source=text", f"data.classes={{pos: {files['pos']}, neg: {files['neg']}}}"])
    dotted = config(None, ["data.source=text", f"data.classes.pos={files['pos']}", f"data.classes.neg={files['neg']}"])
    assert flow.data.classes == dotted.data.classes == {"pos": str(files["pos"]), "neg": str(files["neg"])}
    with pytest.raises(UserError, match=r"data.classes=.*expected a mapping of names to strings"):
        config(None, ["data.source=text", "data.classes=[a, b]"])
    with pytest.raises(UserError, match="leave data.train empty"):
        config(None, ["data.source=text", "data.train=x.txt", f"data.classes.pos={files['pos']}"])


@pytest.mark.parametrize("lines,extra,message", [
    (["pos\tgood film", "bad film"], [], "line 2 has no TAB"),
    (["pos\tgood film", "\tbad film"], [], "line 2 has an empty label"),
    (["pos\tgood film", "neg\t  "], [], "line 2 .* has no sentence"),
    (["pos\tgood film", "neg\tbad film"], ["valid"], "unknown label 'meh'"),
    (["pos\tgood film", "neg\ta long bad film"], ["drop"], "class 'neg' has no training sentences"),
])
def test_label_errors_are_one_line(lines: list[str], extra: list[str], message: str, tmp_path: Path) -> None:
    train = tmp_path / "train.tsv"
    train.write_text("\n".join(lines * 5) + "\n", encoding="utf-8")
    overrides = ["data.format=labelled", f"data.train={train}"]
    if "valid" in extra:
        (tmp_path / "valid.tsv").write_text("pos\tfine\nmeh\tso so\n", encoding="utf-8")
        overrides.append(f"data.valid={tmp_path / 'valid.tsv'}")
    if "drop" in extra:
        overrides += ["data.long_sentences=drop", "data.max_len=4"]
    with pytest.raises(UserError, match=message) as error:
        load(overrides)
    assert "\n" not in str(error.value)


def test_a_split_left_empty_by_dropping_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text("a rather long sentence\n" * 10, encoding="utf-8")
    with pytest.raises(UserError, match="the train split is empty .* raise data.max_len$"):
        load([f"data.train={tmp_path / 'long.txt'}", "data.long_sentences=drop", "data.max_len=3"])


def test_class_file_errors_are_one_line(tmp_path: Path) -> None:
    files = write_two_class_corpus(tmp_path)
    (tmp_path / "blank.txt").write_text("\n\n", encoding="utf-8")
    for overrides, message in (([f"data.classes.neg={tmp_path / 'blank.txt'}"], "class neg .* only blank lines"),
                               ([f"data.classes.neg={tmp_path / 'none.txt'}"], "class neg file .* does not exist"),
                               (["data.classes.neg=" + str(tmp_path / "*.csv")], "class neg glob .* matches no file")):
        with pytest.raises(UserError, match=message) as error:
            load([f"data.classes.pos={files['pos']}", *overrides])
        assert "\n" not in str(error.value)
    with pytest.raises(UserError, match="unknown label 'meh'; this run's labels: neg, pos"):
        LabelSet(("neg", "pos"), (0.5, 0.5)).id("meh")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stratified_splits_are_seeded_disjoint_and_stratified(seed: int) -> None:
    labels = torch.randint(3, (500,), generator=torch.Generator().manual_seed(seed)).tolist()
    parts = stratified_split(labels, [0.1, 0.2], seed)
    assert parts == stratified_split(labels, [0.1, 0.2], seed)
    assert parts != stratified_split(labels, [0.1, 0.2], seed + 1)
    assert sorted(i for part in parts for i in part) == list(range(500))  # disjoint, and nothing lost
    for label in range(3):
        members = labels.count(label)
        for part, fraction in zip(parts, [0.1, 0.2]):
            assert sum(labels[i] == label for i in part) == round(fraction * members)


def test_labelled_splits_keep_their_labels_and_priors(tmp_path: Path) -> None:
    files = write_two_class_corpus(tmp_path, num=50)
    data = load([f"data.classes.{name}={path}" for name, path in files.items()]
                + ["data.test_fraction=0.2", "data.valid_fraction=0.1"])
    assert data.report["classes"] == {"train": {"neg": 35, "pos": 35}, "valid": {"neg": 5, "pos": 5},
                                      "test": {"neg": 10, "pos": 10}}
    assert data.labels is not None and data.labels.priors == (0.5, 0.5)
    batch = next(data.train.batches(8, shuffle=True))
    assert batch.labels is not None and batch.labels.shape == (8,) and batch.labels.dtype == torch.long
    neg_ids = {data.tokenizer.encode(w)[0] for w in files["neg"].read_text().split()}
    for row, label in zip(batch.tokens.tolist(), batch.labels.tolist()):
        assert (row[0] in neg_ids) == (label == 0)  # each sentence travels with its own label


def test_mr_loads_5331_per_class_and_mr15_keeps_1607_and_1631(mr_dir: Path) -> None:
    classes = [f"data.classes.{name}={mr_dir / f'rt-polarity.{name}.txt'}" for name in ("pos", "neg")]
    full = build_data(config("mr", [*classes, "data.long_sentences=truncate", "data.max_len=80"]), None)
    mr15 = build_data(config("mr", classes), None)
    for data, expected in ((full, {"neg": 5331, "pos": 5331}), (mr15, {"neg": 1631, "pos": 1607})):
        totals = {name: sum(split[name] for split in data.report["classes"].values()) for name in expected}
        assert totals == expected
    assert mr15.report["dropped"] == {"train": 10662 - 3238, "valid": 0, "test": 0}
    assert mr15.report["classes"]["test"] == {"neg": 163, "pos": 161}  # ~10% of each class, seeded
    assert int(mr15.train.lengths.max()) <= 16  # 15 words + EOS
