"""Tiny end-to-end runs of the CLI on oracle and COCO data: pretrain, train, sample, evaluate."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from textgan.cli.main import main
from textgan.training.checkpoint import load_checkpoint
from textgan.training.metrics_log import read_metrics


@pytest.mark.parametrize("data", ["oracle", "coco"])
def test_tiny_train_end_to_end(data: str, tmp_path: Path, request: pytest.FixtureRequest,
                               capsys: pytest.CaptureFixture[str]) -> None:
    args = request.getfixturevalue(f"tiny_{data}_args")
    run = tmp_path / "run"
    assert main(["train", "--config", data if data == "oracle" else "coco", f"run.dir={run}", *args]) == 0
    out = capsys.readouterr().out
    assert "after adversarial training" in out
    events = [r["event"] for r in read_metrics(run / "metrics.jsonl")]
    assert events.count("adversarial") == 2 and "d_pretrain" in events and "mle" in events
    for name in ("last.pt", "mle.pt", "adversarial.pt"):
        assert (run / "checkpoints" / name).is_file()
    ckpt = load_checkpoint(run)
    assert ckpt["phase"] == "done" and set(ckpt["models"]) == {"generator", "discriminator"}
    # adversarial weights differ from the MLE ones (the adversarial phase is saved)
    mle = load_checkpoint(run / "checkpoints" / "mle.pt")["models"]["generator"]
    assert not torch.equal(mle["head.weight"], ckpt["models"]["generator"]["head.weight"])
    assert (run / "config.yaml").is_file() and (run / "tokenizer.json").is_file()


def test_sample_and_evaluate_coco(tmp_path: Path, tiny_coco_args: list[str], tiny_coco_files: tuple[Path, Path],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "coco"
    assert main(["pretrain", "--config", "coco", f"run.dir={run}", *tiny_coco_args, "pretrain.epochs=2"]) == 0
    capsys.readouterr()
    out_file = tmp_path / "samples.txt"
    assert main(["sample", "--checkpoint", str(run), "-n", "20", "--out", str(out_file), "--seed", "1"]) == 0
    lines = out_file.read_text().splitlines()
    assert len(lines) == 20 and all(isinstance(x, str) for x in lines)
    words = {w for line in tiny_coco_files[0].read_text().split("\n") for w in line.split()} | {"<unk>"}
    assert all(w in words for line in lines for w in line.split())  # samples are corpus words
    assert main(["sample", "--checkpoint", str(run), "-n", "3", "--temperature", "0"]) == 0
    greedy = capsys.readouterr().out.splitlines()
    assert len(greedy) == 3 and len(set(greedy)) == 1  # greedy decoding is deterministic
    assert main(["evaluate", "--checkpoint", str(run), "--data", str(tiny_coco_files[1])]) == 0
    assert "perplexity" in capsys.readouterr().out


def test_discriminator_pretraining_beats_chance(tmp_path: Path, tiny_oracle_args: list[str]) -> None:
    run = tmp_path / "d"
    args = [*tiny_oracle_args, "pretrain.epochs=0", "d_pretrain.rounds=6", "d_pretrain.num_samples=200",
            "d_pretrain.lr=0.005", "adversarial.rounds=0"]
    assert main(["train", "--config", "oracle", f"run.dir={run}", *args]) == 0
    last = [r for r in read_metrics(run / "metrics.jsonl") if r["event"] == "d_pretrain"][-1]
    accuracy = (last["heldout_d_acc_real"] + last["heldout_d_acc_fake"]) / 2
    assert accuracy > 0.75, last
    assert last["heldout_d_auc"] > 0.75, last  # the threshold-free reading agrees


def test_run_threads_option(tmp_path: Path, tiny_oracle_args: list[str], one_thread: None) -> None:
    torch.set_num_threads(2)
    args = [*tiny_oracle_args, "pretrain.epochs=1", "evaluation.num_samples=10"]
    assert main(["pretrain", "--config", "oracle", f"run.dir={tmp_path / 'a'}", "run.threads=1", *args]) == 0
    assert torch.get_num_threads() == 1
    torch.set_num_threads(2)
    assert main(["pretrain", "--config", "oracle", f"run.dir={tmp_path / 'b'}", *args]) == 0  # 0: left alone
    assert torch.get_num_threads() == 2
