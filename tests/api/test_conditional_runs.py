"""A class-conditional run end to end: its label set stored as plain data, per-class sampling from the CLI and the
API, a mixture by the priors, one-line label errors, and --init-from an unconditional generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import textgan
from tests.conftest import TINY_MODELS, write_two_class_corpus
from tests.helpers import thread_count_kept
from textgan.api.run import TrainingRun
from textgan.cli.main import main
from textgan.errors import UserError
from textgan.training.checkpoint import load_checkpoint
from textgan.training.metrics_log import read_metrics

pytestmark = pytest.mark.usefixtures("one_thread")


def failing(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    return err


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("conditional")
    files = write_two_class_corpus(folder)
    run = folder / "run"
    with thread_count_kept():
        torch.set_num_threads(1)
        textgan.pretrain("mr", ["data.source=text", *(f"data.classes.{n}={p}" for n, p in files.items()),
                                "data.max_len=10", *TINY_MODELS, "pretrain.epochs=10", "pretrain.lr=0.02",
                                f"run.dir={run}"])
    return run


def test_the_label_set_is_stored_as_plain_data(conditional_run: Path) -> None:
    stored = json.loads((conditional_run / "labels.json").read_text())
    assert stored["names"] == ["neg", "pos"] and abs(sum(stored["priors"]) - 1) < 1e-9
    assert load_checkpoint(conditional_run)["labels"] == stored  # weights_only: no pickled code
    assert textgan.load(conditional_run).labels.state() == stored


def test_sample_a_class_from_the_cli_and_the_api(conditional_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "--checkpoint", str(conditional_run), "--label", "pos", "-n", "10", "--seed", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    trained = textgan.load(conditional_run)
    assert lines == trained.sample(10, label="pos", seed=1) and len(lines) == 10
    assert trained.sample(10, label="neg", seed=1) != lines
    labelled = trained.sample_labelled(400, seed=0)  # a mixture by the priors (about half each)
    share = sum(name == "pos" for name, _ in labelled) / len(labelled)
    assert abs(share - trained.labels.priors[1]) < 0.08
    assert [line for _, line in labelled] == trained.sample(400, seed=0)
    positive = trained.sample(20, label="pos", seed=2)  # scored better given their own class than the other
    assert trained.score(positive, label="pos")["nll"] < trained.score(positive, label="neg")["nll"]
    mixture = trained.score(positive)["nll"]  # between the two, nearer its own class
    assert trained.score(positive, label="pos")["nll"] < mixture < trained.score(positive, label="neg")["nll"]


def test_label_errors_list_the_labels(conditional_run: Path, tmp_path: Path, tiny_oracle_args: list[str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    err = failing(capsys, ["sample", "--checkpoint", str(conditional_run), "--label", "meh"])
    assert "unknown label 'meh'; this run's labels: neg, pos" in err
    textgan.pretrain("oracle", [*tiny_oracle_args, f"run.dir={tmp_path / 'plain'}"])
    err = failing(capsys, ["sample", "--checkpoint", str(tmp_path / "plain"), "--label", "pos"])
    assert "trained without class labels" in err
    with pytest.raises(UserError, match="unknown label"):
        textgan.load(conditional_run).sample(3, label="POS")


def test_init_from_an_unconditional_generator_starts_as_it_was(tmp_path: Path) -> None:
    files = write_two_class_corpus(tmp_path)
    rows = {name: path.read_text(encoding="utf-8").split("\n")[:-1] for name, path in files.items()}
    split = {name: (lines[:50], lines[50:]) for name, lines in rows.items()}  # the same train / valid sentences
    for part, index in (("train", 0), ("valid", 1)):
        (tmp_path / f"{part}.txt").write_text("".join(f"{s}\n" for n in rows for s in split[n][index]))
        (tmp_path / f"{part}.tsv").write_text("".join(f"{n}\t{s}\n" for n in rows for s in split[n][index]))
    common = ["data.source=text", "data.max_len=10", *TINY_MODELS]
    textgan.pretrain("coco", [*common, f"data.train={tmp_path / 'train.txt'}", f"data.valid={tmp_path / 'valid.txt'}",
                              "data.test=", f"run.dir={tmp_path / 'plain'}"])
    labelled = textgan.config("mr", [*common, "data.format=labelled", f"data.train={tmp_path / 'train.tsv'}",
                                     f"data.valid={tmp_path / 'valid.tsv'}", "data.classes={}", "data.test_fraction=0",
                                     "generator.class_initial_state=true", f"run.dir={tmp_path / 'conditional'}"])
    run = TrainingRun.open(labelled, init_from=tmp_path / "plain", adversarial=False)
    plain = textgan.load(tmp_path / "plain").generator
    tokens = run.data.valid.tokens[:6]
    inputs = plain.shift_right(tokens)
    with torch.no_grad():
        expected, _ = plain(inputs)
        for label in (0, 1):
            got, _ = run.models.generator(inputs, labels=torch.full((6,), label))
            finite = torch.isfinite(expected)
            torch.testing.assert_close(got[finite], expected[finite], rtol=0, atol=1e-6)
    assert run.progress["fresh_class_embeddings"] and run.phase == "d_pretrain"
    event = read_metrics(tmp_path / "conditional" / "metrics.jsonl")[0]
    assert event["event"] == "init_from" and event["fresh_class_embeddings"] is True
    run.save()
    run.close()
    # ... while a conditional generator needs this run's classes
    with pytest.raises(UserError, match="is class-conditional .* this run's data has labels: none") as err:
        TrainingRun.open(textgan.config("coco", [*common, f"data.train={tmp_path / 'train.txt'}", "data.test=",
                                                 f"data.valid={tmp_path / 'valid.txt'}", f"run.dir={tmp_path / 'x'}"]),
                         init_from=tmp_path / "conditional" / "checkpoints" / "last.pt", adversarial=False)
    assert "\n" not in str(err.value)

