"""Tiny end-to-end runs of the CLI on oracle and COCO data: pretrain, train, sample, evaluate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from textgan.cli.main import main
from textgan.data.tokenizers import SPECIALS, tokenizer_from_state
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
    tokenizer = tokenizer_from_state(json.loads((run / "tokenizer.json").read_text(encoding="utf-8")))
    vocabulary = set(tokenizer.words[len(SPECIALS):]) | {"<unk>"}

    def sample(seed: int, name: str) -> list[str]:
        out_file = tmp_path / name
        assert main(["sample", "--checkpoint", str(run), "-n", "20", "--out", str(out_file), "--seed", str(seed)]) == 0
        return out_file.read_text(encoding="utf-8").split("\n")[:-1]  # one line per sample, newline-terminated

    lines = sample(1, "a.txt")
    assert len(lines) == 20 and all(0 < len(line.split()) <= 20 for line in lines)  # data.max_len=20
    assert all(w in vocabulary for line in lines for w in line.split())  # decoded with the run's vocabulary
    assert sample(1, "b.txt") == lines  # the same seed, the same samples
    assert sample(2, "c.txt") != lines
    assert main(["sample", "--checkpoint", str(run), "-n", "3", "--temperature", "0"]) == 0
    greedy = capsys.readouterr().out.splitlines()
    assert len(greedy) == 3 and len(set(greedy)) == 1  # greedy decoding is deterministic

    report = tmp_path / "eval.json"
    assert main(["evaluate", "--checkpoint", str(run), "--data", str(tiny_coco_files[1]), "--num-samples", "30",
                 "--json", str(report)]) == 0
    assert "perplexity" in capsys.readouterr().out
    metrics = json.loads(report.read_text())["metrics"]
    # two epochs on 300 captions: better than uniform over the vocabulary, far from perfect
    assert 0 < metrics["nll"] < math.log(tokenizer.vocab_size) and math.isfinite(metrics["nll"])
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["nll"]))
    for key in [f"{kind}_{n}" for kind in ("bleu", "self_bleu") for n in (2, 3, 4, 5)] + ["copied_fraction"]:
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["bleu_2"] >= metrics["bleu_3"] >= metrics["bleu_4"] >= metrics["bleu_5"] > 0
    assert 0 < metrics["mean_length"] <= metrics["max_length"]


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
