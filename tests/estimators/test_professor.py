"""Professor forcing: the two behaviours, the exact MLE gradient at zero weights, the gate, D learning, CLI runs."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.helpers import estimator as make_estimator
from textgan.cli.main import main
from textgan.data.batching import TokenBatch, pad_rows
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from textgan.errors import UserError
from textgan.estimators.interface import Estimator
from textgan.estimators.professor import free_running, free_running_lengths, mask_steps
from textgan.models.behaviour_discriminator import GRUBehaviourDiscriminator
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.generator import RNNGenerator
from textgan.models.teacher_forcing import teacher_forced_nll
from textgan.training.checkpoint import load_checkpoint
from textgan.training.metrics_log import read_metrics
from textgan.training.mle import mle_loss

VOCAB, HIDDEN = 20, 12


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def make_generator(cell: str = "lstm", eos: bool = True, layers: int = 1, seed: int = 0,
                   dtype: torch.dtype = torch.float32) -> RNNGenerator:
    torch.manual_seed(seed)
    g = RNNGenerator(vocab_size=VOCAB, embedding_size=8, hidden_size=HIDDEN, num_layers=layers, cell=cell,
                     init_std=0.3, banned_ids=[PAD_ID, BOS_ID, UNK_ID] + ([] if eos else [EOS_ID]),
                     eos_id=EOS_ID if eos else None)
    return g.to(dtype)


def make_discriminator(kind: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "gru":
        return GRUBehaviourDiscriminator(feature_size=HIDDEN, hidden_size=16, mlp_hidden=16)
    return CNNDiscriminator(input_mode="features", feature_size=HIDDEN, filter_sizes=[2, 3], num_filters=[16, 16],
                            dropout=0.0)


def real_batch(eos: bool = True) -> TokenBatch:
    """Variable-length rows (EOS-terminated) or fixed-length rows (no EOS), right-padded."""
    rows = [[5, 6, 7, 8, 9], [10, 11], [4, 4, 4, 4, 4, 4, 4], [12, 13, 14]]
    if eos:
        rows = [r + [EOS_ID] for r in rows]
    else:
        rows = [(r * 7)[:7] for r in rows]
    data = pad_rows(rows)
    return TokenBatch(data.tokens, data.lengths)


@pytest.mark.parametrize("cell, layers, eos", [("lstm", 1, True), ("gru", 1, True), ("lstm", 2, False)])
def test_behaviours_have_the_same_shape(cell: str, layers: int, eos: bool) -> None:
    g, real = make_generator(cell, eos, layers), real_batch(eos)
    teacher, free, lengths = make_estimator("professor", max_len=10).behaviours(g, real)
    batch, steps = real.tokens.shape
    assert teacher.hidden.shape == free.hidden.shape == (batch, steps, HIDDEN)
    assert teacher.nll is not None and teacher.nll.shape == () and teacher.nll.requires_grad  # the fused NLL
    assert free.tokens is not None and free.tokens.shape == (batch, steps)
    assert teacher.hidden.requires_grad and free.hidden.requires_grad and not free.tokens.is_floating_point()
    assert bool((lengths >= 1).all()) and bool((lengths <= real.lengths).all())


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_free_running_is_sampling_and_reading_its_samples_reproduces_it(cell: str) -> None:
    """Free running draws what `sample` draws (same seed), and teacher forcing on those very tokens revisits the
    same hidden states: the two passes are aligned step for step (h_t = the state after reading x_t)."""
    g = make_generator(cell, eos=False)
    torch.manual_seed(3)
    sampled = g.sample(6, 9, return_states=True)
    torch.manual_seed(3)
    with torch.no_grad():
        free = g(torch.full((6, 1), BOS_ID), routine=partial(free_running, steps=9))
        teacher = g(RNNGenerator.shift_right(free.tokens), routine=partial(teacher_forced_nll, targets=free.tokens))
    assert torch.equal(free.tokens, sampled.tokens)
    top_h = sampled.states[:, g.num_layers - 1].transpose(0, 1)  # (T, S, B, H) -> (B, T, H), top layer's h
    torch.testing.assert_close(free.hidden, top_h)
    torch.testing.assert_close(teacher.hidden, free.hidden)


@pytest.mark.parametrize("rows, eos_id, expected", [
    ([[5, 2, 7, 2], [2, 5, 5, 5], [5, 5, 5, 5]], EOS_ID, [2, 1, 4]),   # first EOS counts, none -> T
    ([[5, 2, 7, 2], [2, 5, 5, 5]], None, [4, 4]),                       # fixed-length data never ends early
])
def test_free_running_lengths(rows: list[list[int]], eos_id: int | None, expected: list[int]) -> None:
    assert free_running_lengths(torch.tensor(rows), eos_id).tolist() == expected


def test_mask_steps_zeroes_beyond_the_length() -> None:
    hidden = torch.ones(2, 4, 3)
    masked = mask_steps(hidden, torch.tensor([1, 3]))
    assert masked.sum(-1).tolist() == [[3, 0, 0, 0], [3, 3, 3, 0]]


def _generator_grads(estimator: Estimator | None, d: nn.Module,
                     real: TokenBatch) -> tuple[list[torch.Tensor], dict[str, float]]:
    """Gradients of a fresh float64 generator under plain MLE (estimator None) or the professor loss."""
    g = make_generator(dtype=torch.float64)
    loss, logs = (mle_loss(g, real), {}) if estimator is None else estimator.generator_loss(g, d, real, 0)
    loss.backward()
    return [p.grad.clone() for p in g.parameters()], logs


@pytest.mark.parametrize("kind", ["cnn", "gru"])
@pytest.mark.parametrize("weights, gate", [((0.0, 0.0), (0.0, 1.0)),    # no adversarial weight
                                           ((1.0, 1.0), (1.0, 1.0))])   # gate closed unless D is perfect
def test_zero_weights_or_closed_gate_give_exactly_the_mle_gradient(kind: str, weights: tuple[float, float],
                                                                   gate: tuple[float, float]) -> None:
    real = real_batch()
    d = make_discriminator(kind).double()
    estimator = make_estimator("professor", max_len=10, discriminator=kind, weight_f=weights[0],
                               weight_t=weights[1], gate_low=gate[0], gate_high=gate[1], gan_loss="nsgan")
    mle, _ = _generator_grads(None, d, real)
    professor, logs = _generator_grads(estimator, d, real)
    assert logs["gate_open"] == float(weights == (0.0, 0.0))  # an untrained D is not perfect: (1, 1) is closed
    assert all(torch.equal(a, b) for a, b in zip(mle, professor))
    assert all(p.grad is None for p in d.parameters())  # G's loss computes no D gradients


@pytest.mark.parametrize("weights", [(1.0, 0.0), (0.0, 1.0)])
def test_adversarial_terms_change_the_gradient(weights: tuple[float, float]) -> None:
    """The counterpart of the test above: with an open gate each term really contributes."""
    real, d = real_batch(), make_discriminator("cnn").double()
    estimator = make_estimator("professor", max_len=10, weight_f=weights[0], weight_t=weights[1], gan_loss="nsgan")
    mle, _ = _generator_grads(None, d, real)
    professor, logs = _generator_grads(estimator, d, real)
    assert logs["gate_open"] == 1.0
    assert not all(torch.allclose(a, b) for a, b in zip(mle, professor))


class ConstantD(nn.Module):
    """Scores every sequence `logit`: real always right and fake always wrong when logit > 0 (accuracy 0.5)."""

    def __init__(self, logit: float) -> None:
        super().__init__()
        self.logit = logit

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.sum((1, 2)) * 0 + self.logit


@pytest.mark.parametrize("gate_low, gate_high, is_open", [
    (0.0, 1.0, 1.0), (0.5, 0.5, 1.0), (0.75, 1.0, 0.0), (0.0, 0.4, 0.0),
])
def test_gate_opens_between_the_accuracy_thresholds(gate_low: float, gate_high: float, is_open: float) -> None:
    estimator = make_estimator("professor", max_len=10, gate_low=gate_low, gate_high=gate_high)
    loss, logs = estimator.generator_loss(make_generator(), ConstantD(1.0), real_batch(), 0)
    assert logs["d_acc"] == 0.5 and logs["gate_open"] == is_open
    expected = logs["nll"] + is_open * logs["c_f"]
    assert loss.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("kind", ["cnn", "gru"])
def test_discriminator_learns_to_separate_the_behaviours(kind: str) -> None:
    """A fresh generator's free-running states differ from its states on structured real text; D finds that.

    Fixed-length data: with EOS, rows whose free run ends at once are cut to h_1, the same in both passes."""
    g, d = make_generator(eos=False, seed=1), make_discriminator(kind, seed=2)
    estimator = make_estimator("professor", max_len=10, discriminator=kind, gan_loss="nsgan")
    optimizer = torch.optim.Adam(d.parameters(), lr=0.003)
    real = TokenBatch(torch.tensor([[4, 5, 6, 7, 4, 5, 6, 7, 4]] * 32), torch.full((32,), 9))
    torch.manual_seed(0)
    for _ in range(60):
        optimizer.zero_grad()
        loss, _ = estimator.discriminator_loss(g, d, real, 0)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        _, logs = estimator.discriminator_loss(g, d, real, 0)
    assert (logs["d_acc_real"] + logs["d_acc_fake"]) / 2 > 0.8, logs  # chance: 0.5


def test_bad_gates_are_rejected() -> None:
    with pytest.raises(ValueError, match="gate_low"):
        make_estimator("professor", max_len=10, gate_low=0.9, gate_high=0.5)
    with pytest.raises(UserError, match="discriminator"):
        make_estimator("professor", max_len=10, discriminator="lstm")


@pytest.mark.parametrize("kind", ["cnn", "gru"])
def test_tiny_professor_run_end_to_end(kind: str, tmp_path: Path, tiny_oracle_args: list[str]) -> None:
    run = tmp_path / kind
    args = [*tiny_oracle_args, "adversarial.estimator=professor", f"professor.discriminator={kind}",
            "professor.gate_low=0.1", "adversarial.gan_loss=nsgan"]
    assert main(["train", "--config", "oracle", f"run.dir={run}", *args]) == 0
    records = [r for r in read_metrics(run / "metrics.jsonl") if r["event"] == "adversarial"]
    assert len(records) == 2 and all({"nll", "c_f", "d_acc", "gate_open", "d_loss"} <= set(r) for r in records)
    ckpt = load_checkpoint(run)
    assert ckpt["phase"] == "done" and (run / "checkpoints" / "adversarial.pt").is_file()
    assert any(k.startswith("rnn.") for k in ckpt["models"]["discriminator"]) == (kind == "gru")


def test_cli_reports_bad_gates_in_one_line(tmp_path: Path, tiny_oracle_args: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    args = [*tiny_oracle_args, "pretrain.epochs=0", "adversarial.estimator=professor", "professor.gate_low=0.9",
            "professor.gate_high=0.5"]
    assert main(["train", "--config", "oracle", f"run.dir={tmp_path / 'bad'}", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "gate_low" in err


@pytest.mark.parametrize("kind", ["cnn", "gru"])
def test_wgan_gp_discriminator_loss_adds_a_penalty(kind: str) -> None:
    d = make_discriminator(kind)
    estimator = make_estimator("professor", max_len=10, discriminator=kind, gan_loss="wgan-gp", gp_weight=10.0)
    loss, logs = estimator.discriminator_loss(make_generator(), d, real_batch(), 0)
    loss.backward()
    assert logs["gradient_penalty"] > 0 and torch.isfinite(loss)
    assert all(p.grad is not None for p in d.parameters())


def test_shipped_coco_professor_config_runs(tmp_path: Path, tiny_coco_args: list[str]) -> None:
    """Text data: EOS-terminated rows of different lengths, free runs that end early."""
    run = tmp_path / "coco"
    assert main(["train", "--config", "coco_professor", f"run.dir={run}", *tiny_coco_args,
                 "adversarial.g_steps=2", "professor.gate_low=0"]) == 0
    records = [r for r in read_metrics(run / "metrics.jsonl") if r["event"] == "adversarial"]
    assert len(records) == 2 and all(r["gate_open"] == 1.0 and r["free_len"] >= 1 for r in records)
