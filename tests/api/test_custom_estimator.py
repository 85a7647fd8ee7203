"""The plug-in contract end to end: an estimator defined here, registered with one line, trained from the CLI with
its own config section, and the resulting run read back where that estimator is not registered."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from torch import nn

import textgan
from textgan.cli.main import main
from textgan.estimators.common import sequence_log_probs, token_discriminator_loss
from textgan.models.wrapping import evaluating, unwrap
from textgan.training.metrics_log import read_metrics


@dataclass
class TerminalOptions:
    reward_scale: float = textgan.opt(1.0, "multiplies D's probability of the whole sequence", gt=0)
    baseline: str = textgan.opt("mean", "none, mean or ema")


class TerminalReward:
    """REINFORCE with one reward per sequence, D's probability of it, credited to every token (no rollouts)."""

    Options: ClassVar[type] = TerminalOptions
    pretrains_discriminator: ClassVar[bool] = True

    def __init__(self, options: TerminalOptions, context: textgan.EstimatorContext) -> None:
        self.options, self.context = options, context
        self.baseline = textgan.Baseline(options.baseline)  # type: ignore[arg-type]

    def build_discriminator(self, shelf: textgan.DiscriminatorShelf) -> nn.Module:
        return shelf.cnn("tokens")

    def prepare_generator_step(self, generator: nn.Module, step: int) -> None:
        pass

    def generator_loss(self, generator: nn.Module, discriminator: nn.Module, real: textgan.TokenBatch,
                       step: int) -> tuple[torch.Tensor, dict[str, float]]:
        samples = unwrap(generator).sample(real.tokens.size(0), self.context.max_len)
        d = unwrap(discriminator)
        with torch.no_grad(), evaluating(d):
            reward = self.options.reward_scale * torch.sigmoid(d(samples.tokens))  # (B,)
        mask = samples.tokens != 0
        rewards = reward.unsqueeze(1).expand_as(samples.tokens) * mask  # (B, T)
        logp = sequence_log_probs(generator, samples.tokens, samples.lengths)
        loss, logs = textgan.policy_gradient_loss(logp, rewards, mask, self.baseline)
        return loss, {**logs, "reward_scale": self.options.reward_scale}

    def discriminator_loss(self, generator: nn.Module, discriminator: nn.Module, real: textgan.TokenBatch,
                           step: int) -> tuple[torch.Tensor, dict[str, float]]:
        return token_discriminator_loss(generator, discriminator, real, max_len=self.context.max_len,
                                        gan_loss=self.context.gan_loss, label_smoothing=self.context.label_smoothing)

    def state_dict(self) -> dict[str, Any]:
        return self.baseline.state_dict()

    def load_state_dict(self, state: dict[str, Any], generator: nn.Module) -> None:
        self.baseline.load_state_dict(state)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(textgan.ESTIMATORS, "terminal", TerminalReward)  # the one registry line


def test_custom_estimator_trains_and_reads_back_unregistered(registered: None, tiny_oracle_args: list[str],
                                                             tmp_path: Path) -> None:
    run = tmp_path / "run"
    code = main(["train", "--config", "oracle_quick", *tiny_oracle_args, f"run.dir={run}",
                 "adversarial.estimator=terminal", "terminal.reward_scale=2.5"])
    assert code == 0
    rounds = [r for r in read_metrics(run / "metrics.jsonl") if r["event"] == "adversarial"]
    assert rounds and all(r["reward_scale"] == 2.5 for r in rounds)  # the option reached the estimator
    assert 0 < rounds[-1]["reward"] <= 2.5
    # a fresh process, where "terminal" is not registered: the run still samples and scores through the API
    script = ("import json, sys, textgan; g = textgan.load(sys.argv[1]); s = g.sample(4, seed=0); "
              "print(json.dumps({'n': len(s), 'nll': g.score(s)['nll'], "
              "'registered': 'terminal' in textgan.ESTIMATORS}))")
    out = subprocess.run([sys.executable, "-c", script, str(run)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["n"] == 4 and result["nll"] > 0 and not result["registered"]
    assert main(["evaluate", "--checkpoint", str(run), "--num-samples", "20", "--metrics", "nll_oracle"]) == 0


def test_misspelt_option_is_one_line_with_a_suggestion(registered: None, tiny_oracle_args: list[str],
                                                       tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--config", "oracle_quick", *tiny_oracle_args, f"run.dir={tmp_path / 'run'}",
                 "adversarial.estimator=terminal", "terminal.reward_scal=2.5"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "terminal.reward_scal" in err and "did you mean terminal.reward_scale" in err
    assert not (tmp_path / "run").exists()


def test_options_are_validated_like_config(registered: None) -> None:
    with pytest.raises(textgan.UserError, match="terminal.reward_scale"):
        textgan.config("oracle_quick", ["adversarial.estimator=terminal", "terminal.reward_scale=0"])
    with pytest.raises(textgan.UserError, match="adversarial.estimator"):
        textgan.config("oracle_quick", ["adversarial.estimator=terminl"])
