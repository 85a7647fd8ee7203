"""Tiny end-to-end runs of every registered estimator on both data kinds, and of every shipped config."""

from __future__ import annotations

from pathlib import Path

import pytest

import textgan
from textgan.config_io import shipped_configs
from textgan.estimators.registry import ESTIMATORS

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.mark.parametrize("data", ["oracle", "coco"])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimator_trains_through_the_api(name: str, data: str, request: pytest.FixtureRequest,
                                                tmp_path: Path) -> None:
    args = request.getfixturevalue(f"tiny_{data}_args")
    skip = ["d_pretrain.rounds=0"] if not ESTIMATORS[name].pretrains_discriminator else []  # CoT's mediator
    before, after = textgan.train("oracle_quick", [*args, f"run.dir={tmp_path}", f"adversarial.estimator={name}",
                                                   *skip])
    assert before and after and set(before) == set(after)
    payload = textgan.load(tmp_path).payload
    assert payload["phase"] == "done" and payload["progress"]["adversarial"]["round"] == 2
    assert (tmp_path / "checkpoints" / "adversarial.pt").is_file()


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimator_trains_conditionally_from_the_cli(name: str, tiny_labelled_args: list[str], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from textgan.cli.main import main

    code = main(["train", "--config", "mr", *tiny_labelled_args, f"run.dir={tmp_path}",
                 f"adversarial.estimator={name}"])
    out, err = capsys.readouterr()
    if name == "cot":  # its mediator is an unconditional language model
        assert code == 2 and "cot estimator: does not support class labels" in err
        return
    assert code == 0, err
    assert "train classes: neg 36, pos 36" in out  # the data printout: 60 per class, 20% + 20% held out
    trained = textgan.load(tmp_path)
    assert trained.labels is not None and trained.payload["progress"]["adversarial"]["round"] == 2
    assert len(trained.sample(4, label="neg", seed=0)) == 4


# every estimator whose discriminator can read labels, with the options that give it the conditional CNN
CONDITIONAL_D = {"reinforce": [], "gumbel": [], "professor": [], "feature_matching": [],
                 "dense_reinforce": ["dense_reinforce.discriminator=cnn"]}


@pytest.mark.parametrize("mode", ["projection", "classes"])
@pytest.mark.parametrize("name", list(CONDITIONAL_D))
def test_every_supporting_estimator_trains_with_a_conditional_discriminator(name: str, mode: str,
                                                                            tiny_labelled_args: list[str],
                                                                            tmp_path: Path) -> None:
    _, after = textgan.train("mr", [*tiny_labelled_args, f"run.dir={tmp_path}", f"adversarial.estimator={name}",
                                    f"discriminator.conditional={mode}", *CONDITIONAL_D[name]])
    assert after and all(v == v for v in after.values())
    payload = textgan.load(tmp_path).payload
    assert payload["progress"]["adversarial"]["round"] == 2
    d = payload["models"]["discriminator"]
    if mode == "projection":
        assert d["class_embedding.weight"].shape[0] == 2
    else:
        assert d["head.weight"].shape[0] == 3  # two classes and fake


@pytest.mark.parametrize("name", shipped_configs())
def test_every_shipped_config_runs(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    cfg = textgan.config(name)
    labelled = bool(cfg.data.classes) or cfg.data.format == "labelled"
    args = request.getfixturevalue("tiny_labelled_args" if labelled else {
        "oracle": "tiny_oracle_args", "kmode": "tiny_kmode_args"}.get(cfg.data.source, "tiny_coco_args"))
    keep = ["d_pretrain.rounds=0"] if cfg.d_pretrain.rounds == 0 else []  # the tiny args' 1 would override it
    _, after = textgan.train(name, [*args, f"run.dir={tmp_path}", *keep])
    assert after and all(v == v for v in after.values())  # finite metrics, no NaN


@pytest.mark.parametrize("name,options", [
    ("reinforce", ["discriminator.minibatch_kernels=4", "discriminator.minibatch_reference=8"]),
    ("reinforce", ["discriminator.spectral_norm=true"]),
    ("reinforce", ["discriminator.r1_weight=1.0"]),
    ("gumbel", ["discriminator.minibatch_kernels=4", "discriminator.spectral_norm=true",
                "discriminator.r1_weight=1.0"]),
    ("gumbel", ["gumbel.unroll_steps=2"]),
])
def test_mode_collapse_options_train_on_kmode(name: str, options: list[str], tiny_kmode_args: list[str],
                                              tmp_path: Path) -> None:
    _, after = textgan.train("kmode", [*tiny_kmode_args, f"run.dir={tmp_path}", f"adversarial.estimator={name}",
                                       *options])
    assert {"kmode_valid", "kmode_coverage", "kmode_js", "kmode_within_diversity"} <= set(after)
    assert all(v == v for v in after.values())
