"""A killed run resumed with --resume ends with exactly the parameters of one never interrupted."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import TINY_KMODE, TINY_ORACLE
from textgan.api import run as run_module
from textgan.cli.main import main
from textgan.training.checkpoint import load_checkpoint


def params(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    return load_checkpoint(run)["models"]


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for model in a:
        for name, tensor in a[model].items():
            assert torch.equal(tensor, b[model][name]), f"{model}.{name} differs"


def kill_after_saves(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    """Simulate Ctrl-C / a kill right after the count-th checkpoint write."""
    original = run_module.TrainingRun.save
    calls = {"n": 0}

    def save(self, name: str = "last.pt") -> None:
        original(self, name)
        calls["n"] += 1
        if calls["n"] == count:
            raise KeyboardInterrupt

    monkeypatch.setattr(run_module.TrainingRun, "save", save)


def test_resume_mle_equals_uninterrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["pretrain", "--config", "oracle", *TINY_ORACLE, "generator.dropout=0.2", "pretrain.epochs=3"]
    assert main([*base, f"run.dir={tmp_path / 'straight'}"]) == 0
    with monkeypatch.context() as patch:
        kill_after_saves(patch, 1)  # killed after epoch 1
        assert main([*base, f"run.dir={tmp_path / 'killed'}"]) == 130
    assert load_checkpoint(tmp_path / "killed")["progress"]["mle"]["epoch"] == 1
    assert main([*base, f"run.dir={tmp_path / 'killed'}", "--resume"]) == 0
    assert_same(params(tmp_path / "straight"), params(tmp_path / "killed"))


MODE_COLLAPSE_OPTIONS = ["discriminator.minibatch_kernels=3", "discriminator.minibatch_reference=5",
                         "discriminator.spectral_norm=true", "discriminator.r1_weight=1.0"]


@pytest.mark.parametrize("config,extra", [
    ("oracle", [*TINY_ORACLE, "reinforce.baseline=ema", "reinforce.rollout_policy=ema"]),
    ("oracle", [*TINY_ORACLE, *MODE_COLLAPSE_OPTIONS]),  # the reference batch and spectral vectors checkpointed
    ("kmode_gumbel", [*TINY_KMODE, *MODE_COLLAPSE_OPTIONS, "gumbel.unroll_steps=1"]),
])
def test_resume_mid_adversarial_equals_uninterrupted(config: str, extra: list[str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["train", "--config", config, *extra, "adversarial.rounds=3", "discriminator.dropout=0.5"]
    assert main([*base, f"run.dir={tmp_path / 'straight'}"]) == 0
    with monkeypatch.context() as patch:
        # saves: MLE epoch, MLE end (+mle.pt), D round, D end, adversarial round 1 -> killed in round 2
        kill_after_saves(patch, 6)
        assert main([*base, f"run.dir={tmp_path / 'killed'}"]) == 130
    killed_progress = load_checkpoint(tmp_path / "killed")["progress"]
    assert killed_progress["adversarial"]["round"] == 1
    assert main([*base, f"run.dir={tmp_path / 'killed'}", "--resume"]) == 0
    straight, killed = params(tmp_path / "straight"), params(tmp_path / "killed")
    assert set(straight) == {"generator", "discriminator"}
    assert_same(straight, killed)
    assert load_checkpoint(tmp_path / "killed")["progress"]["adversarial"]["round"] == 3


def test_non_finite_loss_stops_with_last_good_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from textgan.estimators.reinforce import Reinforce

    original = Reinforce.generator_loss

    def poisoned(self, generator, discriminator, real, step):
        loss, logs = original(self, generator, discriminator, real, step)
        return (loss * float("nan") if step == 1 else loss), logs

    monkeypatch.setattr(Reinforce, "generator_loss", poisoned)
    run = tmp_path / "nan"
    code = main(["train", "--config", "oracle", *TINY_ORACLE, f"run.dir={run}", "adversarial.rounds=3"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "not finite" in err and "checkpoint is intact" in err
    ckpt = load_checkpoint(run)
    assert ckpt["progress"]["adversarial"]["round"] == 1  # the last good round
    assert all(bool(torch.isfinite(t).all()) for t in ckpt["models"]["generator"].values()
               if t.dtype.is_floating_point and t.dim() > 1)


def test_more_epochs_continue_mle_and_a_moved_run_resumes(tmp_path: Path) -> None:
    import shutil

    from textgan.training.metrics_log import read_metrics

    base = ["pretrain", "--config", "oracle", *TINY_ORACLE]
    assert main([*base, f"run.dir={tmp_path / 'a'}", "pretrain.epochs=1"]) == 0
    shutil.move(tmp_path / "a", tmp_path / "b")  # run directories can be moved (run.dir may differ on --resume)
    assert main([*base, f"run.dir={tmp_path / 'b'}", "pretrain.epochs=2", "--resume"]) == 0
    assert load_checkpoint(tmp_path / "b")["progress"]["mle"]["epoch"] == 2
    assert [r["step"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl") if r["event"] == "mle"] == [1, 2]
    # the same two epochs as a run that asked for 2 from the start
    assert main([*base, f"run.dir={tmp_path / 'straight'}", "pretrain.epochs=2"]) == 0
    assert_same(params(tmp_path / "straight"), params(tmp_path / "b"))
