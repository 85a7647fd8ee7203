"""A killed run resumed with --resume ends with exactly the parameters of one never interrupted."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

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


LABELLED = "<tiny labelled data>"  # expands to tests/conftest.py's tiny_labelled_args
MODE_COLLAPSE_OPTIONS = ["discriminator.minibatch_kernels=3", "discriminator.minibatch_reference=5",
                         "discriminator.spectral_norm=true", "discriminator.r1_weight=1.0"]


@pytest.mark.parametrize("config,extra", [
    ("oracle", [*TINY_ORACLE, "reinforce.baseline=ema", "reinforce.rollout_policy=ema"]),
    ("oracle", [*TINY_ORACLE, *MODE_COLLAPSE_OPTIONS]),  # the reference batch and spectral vectors checkpointed
    ("kmode_gumbel", [*TINY_KMODE, *MODE_COLLAPSE_OPTIONS, "gumbel.unroll_steps=1"]),
    # class-conditional: labels in every batch, rollouts of an EMA copy in each sequence's class
    ("mr", [LABELLED, "reinforce.baseline=ema", "reinforce.rollout_policy=ema", "generator.class_initial_state=true",
            "generator.dropout=0.2"]),
    # a conditional D: projection with rollouts in each sequence's class; the (K+1)-class head under Gumbel-softmax
    ("mr", [LABELLED, "discriminator.conditional=projection", "reinforce.baseline=ema"]),
    ("mr", [LABELLED, "discriminator.conditional=classes", "adversarial.estimator=gumbel"]),
])
def test_resume_mid_adversarial_equals_uninterrupted(config: str, extra: list[str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     request: pytest.FixtureRequest) -> None:
    if LABELLED in extra:
        extra = [*request.getfixturevalue("tiny_labelled_args"), *(e for e in extra if e != LABELLED)]
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


@pytest.mark.parametrize(("config", "overrides"), [
    # from scratch: recurrent per-step D, moving baseline, Adam beta1 = 0.5 for both networks
    ("oracle_scratch", ["pretrain.epochs=0", "d_pretrain.rounds=0", "dense_reinforce.hidden_size=8",
                        "dense_reinforce.embedding_dropout=0.3"]),
    # after MLE: the CNN in prefix mode with MaliGAN weights
    ("oracle", ["adversarial.estimator=dense_reinforce", "dense_reinforce.discriminator=cnn",
                "dense_reinforce.weighting=maligan", "adversarial.d_betas=[0.5,0.999]"]),
    ("oracle", ["reinforce.weighting=maligan"]),
])
def test_resume_dense_and_maligan_mid_adversarial(config: str, overrides: list[str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["train", "--config", config, *TINY_ORACLE, *overrides, "adversarial.rounds=3",
            "adversarial.checkpoint_every=1"]
    assert main([*base, f"run.dir={tmp_path / 'straight'}"]) == 0
    with monkeypatch.context() as patch:
        # saves: MLE epoch, MLE end + mle.pt, D round, D end (without pretraining: phase ends + mle.pt,
        # adversarial start), round 1 -> killed in round 2
        kill_after_saves(patch, 4 if config == "oracle_scratch" else 6)
        assert main([*base, f"run.dir={tmp_path / 'killed'}"]) == 130
    assert load_checkpoint(tmp_path / "killed")["progress"]["adversarial"]["round"] == 1
    assert main([*base, f"run.dir={tmp_path / 'killed'}", "--resume"]) == 0
    straight, killed = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "killed")
    assert_same(straight["models"], killed["models"])
    assert straight["optimizers"]["discriminator"]["param_groups"][0]["betas"] == \
        killed["optimizers"]["discriminator"]["param_groups"][0]["betas"]
    assert_same({"adam": straight["optimizers"]["discriminator"]["state"][0]},
                {"adam": killed["optimizers"]["discriminator"]["state"][0]})
    assert straight["extra"] == killed["extra"]  # the estimator's moving baseline


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


@pytest.mark.parametrize("option", ["discriminator.precision=bf16", "discriminator.winning_window_grad=true",
                                    "discriminator.fused_highway_step=true"])
def test_resume_with_length_buckets_and_d_speed_options_equals_uninterrupted(
        option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_coco_args: list[str]) -> None:
    base = ["train", "--config", "coco", *tiny_coco_args, "adversarial.rounds=3", "discriminator.length_buckets=2",
            option, "discriminator.fused_optimizer=true", "run.threads=1"]
    assert main([*base, f"run.dir={tmp_path / 'straight'}"]) == 0
    with monkeypatch.context() as patch:
        kill_after_saves(patch, 6)  # as above: killed in adversarial round 2
        assert main([*base, f"run.dir={tmp_path / 'killed'}"]) == 130
    assert load_checkpoint(tmp_path / "killed")["progress"]["adversarial"]["round"] == 1
    assert main([*base, f"run.dir={tmp_path / 'killed'}", "--resume"]) == 0
    assert_same(params(tmp_path / "straight"), params(tmp_path / "killed"))


def optimizer_tensors(run: Path, name: str) -> dict[str, torch.Tensor]:
    state = load_checkpoint(run)["optimizers"][name]["state"]
    return {f"{k}.{key}": v for k, entry in state.items() for key, v in entry.items() if torch.is_tensor(v)}


# (estimator overrides, checkpoint writes before the kill, landing in adversarial round 2): MLE epoch, MLE end
# (+mle.pt), [D round, D end | D phase end without D pretraining], adversarial round 1
@pytest.mark.parametrize("overrides, saves", [
    (["adversarial.estimator=cot", "d_pretrain.rounds=0"], 5),
    (["adversarial.estimator=feature_matching", "feature_matching.distance=mmd"], 6),
    (["adversarial.estimator=feature_matching", "feature_matching.distance=fmd",
      "feature_matching.mode=straight_through"], 6),
], ids=["cot", "fm-mmd", "fm-fmd"])
def test_resume_mid_run_of_new_estimators_equals_uninterrupted(overrides: list[str], saves: int, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["train", "--config", "oracle", *TINY_ORACLE, *overrides, "adversarial.rounds=3",
            "discriminator.dropout=0.5"]
    assert main([*base, f"run.dir={tmp_path / 'straight'}"]) == 0
    with monkeypatch.context() as patch:
        kill_after_saves(patch, saves)
        assert main([*base, f"run.dir={tmp_path / 'killed'}"]) == 130
    assert load_checkpoint(tmp_path / "killed")["progress"]["adversarial"]["round"] == 1
    assert main([*base, f"run.dir={tmp_path / 'killed'}", "--resume"]) == 0
    assert_same(params(tmp_path / "straight"), params(tmp_path / "killed"))
    for name in ("generator", "discriminator"):  # the mediator's (or D's) optimizer too
        straight, killed = (optimizer_tensors(tmp_path / r, name) for r in ("straight", "killed"))
        assert straight and straight.keys() == killed.keys()
        assert all(torch.equal(straight[k], killed[k]) for k in straight), name



def test_cpu_seconds_add_up_over_invocations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run's CPU time is the sum over its invocations of the time each spent up to its last checkpoint: with a
    clock that moves 5 s before each checkpoint write, a run killed after its first write and resumed holds 5 s
    per write in all."""
    clock, writes = {"now": 100.0}, {"n": 0}
    original = run_module.TrainingRun.save

    def save(self, name: str = "last.pt") -> None:
        clock["now"] += 5.0
        writes["n"] += 1
        original(self, name)

    monkeypatch.setattr(run_module, "time", SimpleNamespace(process_time=lambda: clock["now"]))
    monkeypatch.setattr(run_module.TrainingRun, "save", save)
    base = ["pretrain", "--config", "oracle", *TINY_ORACLE, "pretrain.epochs=3", f"run.dir={tmp_path / 'r'}"]
    with monkeypatch.context() as patch:
        kill_after_saves(patch, 1)  # killed right after the first write
        assert main(base) == 130
    assert load_checkpoint(tmp_path / "r")["progress"]["cpu_seconds"] == 5.0
    clock["now"] += 1000.0  # between invocations: not the run's
    assert main([*base, "--resume"]) == 0
    assert writes["n"] > 2
    # mle.pt is the last write; last.pt, written just before it, holds all but that write's 5 s
    assert load_checkpoint(tmp_path / "r" / "checkpoints" / "mle.pt")["progress"]["cpu_seconds"] == 5.0 * writes["n"]
