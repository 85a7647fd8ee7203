"""The public API on a trained run: load, sample and score in three lines; sampling with a seed is pure."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import torch

import textgan
from textgan.cli.main import main
from textgan.models import generator as generator_module
from textgan.models import kernels

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run_v0_1"  # written by textgan 0.1.0


def test_load_sample_and_score_in_three_lines() -> None:
    gen = textgan.load(FIXTURE)
    lines = gen.sample(7, temperature=0.9, seed=3)
    score = gen.score(lines)
    assert len(lines) == 7 and all(len(line.split()) == 8 for line in lines)  # fixed-length oracle data
    vocab = {gen.tokenizer.decode([i]) for i in range(4, gen.tokenizer.vocab_size)}
    assert all(set(line.split()) <= vocab for line in lines)
    assert score["tokens"] == 7 * 8 and 0 < score["nll"] < math.log(50) + 1
    assert score["ppl"] == pytest.approx(math.exp(score["nll"]))


def test_seeded_sampling_leaves_the_global_rng_and_repeats() -> None:
    gen = textgan.load(FIXTURE, device="cpu")
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b = gen.sample(20, seed=5), gen.sample(20, seed=5)
    assert torch.equal(before, torch.get_rng_state())
    assert a == b and a != gen.sample(20, seed=6)


def test_score_prefers_the_models_own_samples_to_shuffled_ones() -> None:
    gen = textgan.load(FIXTURE)
    own = gen.sample(200, temperature=0.5, seed=1)
    shuffled = [" ".join(reversed(line.split())) for line in own]
    assert gen.score(own)["nll"] < gen.score(shuffled)["nll"]


def test_bad_inputs_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(textgan.UserError, match="does not exist"):
        textgan.load(tmp_path / "nothing")
    with pytest.raises(textgan.UserError):
        textgan.load(FIXTURE).sample(-1)
    with pytest.raises(textgan.UserError):
        textgan.load(FIXTURE).score([])


# ---- runs of the previous checkpoint format ------------------------------------------------------------------
def test_previous_format_samples_and_evaluates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "--checkpoint", str(FIXTURE), "-n", "3", "--seed", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["evaluate", "--checkpoint", str(FIXTURE), "--num-samples", "50", "--metrics", "nll_oracle"]) == 0
    assert "nll_oracle" in capsys.readouterr().out


def test_previous_format_initialises_and_resumes(tmp_path: Path) -> None:
    stored = FIXTURE / "config.yaml"
    run = tmp_path / "from_old"
    assert main(["train", "--config", str(stored), f"run.dir={run}", "adversarial.rounds=1",
                 "--init-from", str(FIXTURE / "checkpoints" / "mle.pt")]) == 0
    assert textgan.load(run).sample(2, seed=0)
    copy = tmp_path / "resumed"
    shutil.copytree(FIXTURE, copy)
    assert main(["train", "--config", str(stored), f"run.dir={copy}", "adversarial.rounds=4", "--resume"]) == 0
    payload = torch.load(copy / "checkpoints" / "last.pt", weights_only=True)
    assert payload["progress"]["adversarial"]["round"] == 4 and payload["phase"] == "done"


@pytest.mark.skipif(not kernels.available(), reason="no C compiler: the compiled kernels are not built")
@pytest.mark.parametrize("argv", [
    ["sample", "--checkpoint", str(FIXTURE), "-n", "3", "--seed", "2"],
    ["evaluate", "--checkpoint", str(FIXTURE), "--num-samples", "20", "--metrics", "nll_oracle"],
])
def test_commands_draw_with_the_compiled_sampler_when_asked(argv: list[str], capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = generator_module.sample_compiled
    monkeypatch.setattr(generator_module, "sample_compiled", lambda *a: calls.append(1) or real(*a))
    assert main(argv) == 0 and not calls  # the run's setting: off
    plain = capsys.readouterr().out
    assert main([*argv, "--compiled-sampler"]) == 0 and calls
    assert len(capsys.readouterr().out.splitlines()) == len(plain.splitlines())
