"""Per-class evaluation in the workflow: a labelled run's final report and `textgan evaluate` print per-class
test-BLEU, self-BLEU, NLL-test and class accuracy (the classifier trained once, stored beside the run), and
`textgan evaluate` reads the test split the run carved at load time."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import torch

import textgan
from tests.conftest import TINY_MODELS, write_two_class_corpus
from tests.helpers import thread_count_kept
from textgan.api.class_report import CLASSIFIER_FILE, prepared_data, trained_class_metrics
from textgan.cli.main import main

pytestmark = pytest.mark.usefixtures("one_thread")
PER_CLASS_KEYS = {f"{metric}_{name}" for name in ("neg", "pos") for metric in (
    "bleu_2", "bleu_5", "self_bleu_2", "self_bleu_5", "nll_test", "class_accuracy")}


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A tiny conditional `textgan train` (two classes, disjoint vocabularies) and what it printed."""
    folder = tmp_path_factory.mktemp("class_report")
    files = write_two_class_corpus(folder)
    run = folder / "run"
    out = io.StringIO()
    with thread_count_kept(), contextlib.redirect_stdout(out):
        torch.set_num_threads(1)
        code = main(["train", "--config", "mr", "data.source=text",
                     *(f"data.classes.{n}={p}" for n, p in files.items()), "data.max_len=10",
                     "data.test_fraction=0.2", "data.valid_fraction=0.2", *TINY_MODELS,
                     "evaluation.num_samples=40", f"run.dir={run}"])
    assert code == 0
    return run, out.getvalue()


def test_the_final_report_prints_per_class_metrics(labelled_run: tuple[Path, str]) -> None:
    run, out = labelled_run
    assert "per class at the end" in out
    printed = {line.split()[0] for line in out.split("per class at the end")[1].splitlines()[1:] if line.strip()}
    assert PER_CLASS_KEYS | {"class_accuracy", "classifier_test_accuracy"} <= printed
    assert (run / CLASSIFIER_FILE).is_file()


def test_evaluate_reads_the_carved_test_split_and_prints_per_class_metrics(
        labelled_run: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    run, _ = labelled_run
    stored = (run / CLASSIFIER_FILE).stat().st_mtime_ns
    assert main(["evaluate", "--checkpoint", str(run), "--num-samples", "40", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "nll data: the run's carved test split (given each sentence's class): 24 sentences" in out
    assert "BLEU references: all 24 lines of the run's carved test split" in out
    assert not {"skipped bleu:", "skipped nll:", "skipped copied:"} & {" ".join(line.split()[:2]) for line in
                                                                       out.splitlines()}
    assert "bleu_5 " in out and "nll " in out and "copied_fraction " in out
    assert "per class (40 samples" in out
    assert (run / CLASSIFIER_FILE).stat().st_mtime_ns == stored  # trained once, with the run: reloaded here
    trained = textgan.load(run)
    expected = trained_class_metrics(trained, classifier_path=run / CLASSIFIER_FILE, seed=3, num_samples=40)
    table = out.split("per class (")[1]
    for key in PER_CLASS_KEYS:
        line = next(line for line in table.splitlines() if line.strip().startswith(key + " "))
        assert float(line.split()[1]) == pytest.approx(expected[key], abs=1e-3)


def test_per_class_nll_is_the_nll_of_the_classs_test_sentences_given_the_class(
        labelled_run: tuple[Path, str]) -> None:
    run, _ = labelled_run
    trained = textgan.load(run)
    data = prepared_data(trained)
    rng = torch.get_rng_state()
    metrics = trained_class_metrics(trained, classifier_path=run / CLASSIFIER_FILE, num_samples=20, data=data)
    assert torch.equal(torch.get_rng_state(), rng)  # sampled in a forked RNG
    assert data.test is not None and data.test.labels is not None and data.labels is not None
    for c, name in enumerate(data.labels.names):
        lines = [line for line, label in zip(data.test_lines, data.test.labels.tolist()) if label == c]
        assert metrics[f"nll_test_{name}"] == pytest.approx(trained.score(lines, label=name)["nll"], rel=1e-5)
    assert 0.0 <= metrics["class_accuracy"] <= 1.0
    # the classifier reads the two disjoint vocabularies apart
    assert metrics["classifier_test_accuracy"] >= 0.9
