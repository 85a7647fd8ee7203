"""A run without MLE pretraining never presents its untrained generator as an "after MLE" result."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TINY_ORACLE
from textgan.cli.main import main
from textgan.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.mark.parametrize(("epochs", "label"), [(0, "untrained generator (no MLE pretraining)"),
                                               (1, "after MLE pretraining")])
def test_printout_says_whether_the_generator_was_pretrained(epochs: int, label: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--config", "oracle_scratch", *TINY_ORACLE, f"pretrain.epochs={epochs}", "adversarial.rounds=1",
            "dense_reinforce.hidden_size=8", f"run.dir={tmp_path}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert label in out
    assert ("after MLE" in out) == (epochs > 0)
    minutes = float(out.split("CPU time of the run: ")[1].split(" min")[0])  # the run's cost, printed last
    checkpointed = load_checkpoint(tmp_path / "checkpoints" / "last.pt")["progress"]["cpu_seconds"]
    assert minutes == pytest.approx(checkpointed / 60, abs=0.06)  # printed to 0.1 min, after the last checkpoint
