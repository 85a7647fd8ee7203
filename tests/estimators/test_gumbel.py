"""Gumbel-softmax sampling and estimator: exact one-hots in straight-through mode, gradients through the sample
(finite differences in soft mode), banned ids at zero mass, EOS padding, losses that update only their network,
and tiny end-to-end `textgan train adversarial.estimator=gumbel` runs on oracle and COCO data."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from tests.helpers import estimator
from textgan.cli.main import main
from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from textgan.errors import UserError
from textgan.estimators.gumbel import one_hot_batch
from textgan.estimators.gumbel_sampling import GumbelArgs, gumbel_noise, gumbel_sample
from textgan.estimators.schedules import inverse_temperature
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.generator import RNNGenerator
from textgan.training.checkpoint import load_checkpoint
from textgan.training.metrics_log import read_metrics

VOCAB = 9
BANNED = [PAD_ID, BOS_ID, UNK_ID]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def make(eos: bool = False, cell: str = "lstm", dtype: torch.dtype = torch.float64, seed: int = 0) -> RNNGenerator:
    torch.manual_seed(seed)
    g = RNNGenerator(vocab_size=VOCAB, embedding_size=4, hidden_size=5, cell=cell,  # type: ignore[arg-type]
                     init_std=0.5, banned_ids=BANNED + ([] if eos else [EOS_ID]), eos_id=EOS_ID if eos else None)
    return g.to(dtype)


def bos(batch: int) -> torch.Tensor:
    return torch.full((batch, 1), BOS_ID, dtype=torch.long)


def fixed_noise(batch: int, steps: int, seed: int = 1) -> torch.Tensor:
    return gumbel_noise((batch, steps, VOCAB), dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


# ---- sampling ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("eos", [False, True])
def test_straight_through_forward_is_exactly_the_hard_one_hot(eos: bool) -> None:
    g = make(eos=eos, dtype=torch.float32)
    s = g(bos(64), routine=partial(gumbel_sample, args=GumbelArgs(beta=1.5, max_len=6, mode="straight_through")))
    assert torch.equal(s.distributions, F.one_hot(s.tokens, VOCAB).float())  # exact, not approximately
    assert s.distributions.requires_grad
    soft = g(bos(64), routine=partial(gumbel_sample, args=GumbelArgs(beta=1.5, max_len=6, mode="soft")))
    assert not torch.equal(soft.distributions, F.one_hot(soft.tokens, VOCAB).float())  # the soft mode is soft


def test_hard_tokens_are_the_argmax_of_perturbed_logits_and_drive_the_recurrence() -> None:
    g = make()
    noise = fixed_noise(4, 5)
    s = gumbel_sample(g, bos(4), None, GumbelArgs(beta=1.0, max_len=5, noise=noise))
    logits, _ = g(RNNGenerator.shift_right(s.tokens))  # teacher forcing on the hard tokens: same logits
    assert torch.equal((logits + noise).argmax(-1), s.tokens)
    torch.testing.assert_close(s.soft, torch.softmax(logits + noise, -1))


def test_forward_dispatch_equals_the_function() -> None:
    g = make()
    args = GumbelArgs(beta=3.0, max_len=5, noise=fixed_noise(4, 5))
    a, b = g(bos(4), routine=partial(gumbel_sample, args=args)), gumbel_sample(g, bos(4), None, args)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.distributions, b.distributions)


@pytest.mark.parametrize("mode", ["soft", "straight_through"])
def test_gradients_reach_every_generator_parameter(mode: str) -> None:
    g = make(dtype=torch.float32)
    s = g(bos(16), routine=partial(gumbel_sample, args=GumbelArgs(beta=2.0, max_len=5, mode=mode)))  # type: ignore[arg-type]
    (s.distributions * torch.randn_like(s.distributions)).sum().backward()
    for name, p in g.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name
        assert bool(torch.isfinite(p.grad).all()), name


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_soft_gradient_matches_finite_differences(cell: str) -> None:
    """Fixed noise makes the soft sample a smooth function of the parameters (the argmax is locally constant)."""
    g = make(cell=cell)
    names = [name for name, _ in g.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in g.parameters())
    args = GumbelArgs(beta=2.0, max_len=4, mode="soft", noise=fixed_noise(3, 4))
    weights = torch.randn(3, 4, VOCAB, dtype=torch.float64, generator=torch.Generator().manual_seed(2))

    def objective(*values: torch.Tensor) -> torch.Tensor:
        sample = functional_call(g, dict(zip(names, values)), (bos(3),), {"routine": partial(gumbel_sample, args=args)})
        return (sample.distributions * weights).sum()

    assert torch.autograd.gradcheck(objective, params, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_straight_through_gradient_is_the_soft_gradient() -> None:
    noise, weights = fixed_noise(3, 4), torch.randn(3, 4, VOCAB, dtype=torch.float64)
    grads = []
    for mode in ("soft", "straight_through"):
        g = make()
        s = g(bos(3), routine=partial(gumbel_sample, args=GumbelArgs(beta=2.0, max_len=4, mode=mode, noise=noise)))  # type: ignore[arg-type]
        (s.distributions * weights).sum().backward()
        grads.append([p.grad for p in g.parameters()])
    for soft_grad, st_grad in zip(*grads):
        torch.testing.assert_close(st_grad, soft_grad)


@pytest.mark.parametrize("mode", ["soft", "straight_through"])
@pytest.mark.parametrize("beta", [1e-3, 1.0, 1000.0])
def test_banned_ids_get_exactly_zero_mass(mode: str, beta: float) -> None:
    g = make()
    noise = fixed_noise(32, 6)
    noise[..., BANNED + [EOS_ID]] = 1e30  # huge noise on banned ids must not revive them (-inf + finite = -inf)
    s = g(bos(32), routine=partial(gumbel_sample, args=GumbelArgs(beta=beta, max_len=6, mode=mode, noise=noise)))  # type: ignore[arg-type]
    banned = BANNED + [EOS_ID]
    assert bool((s.soft[..., banned] == 0).all()) and bool((s.distributions[..., banned] == 0).all())
    assert not bool(torch.isin(s.tokens, torch.tensor(banned)).any())
    s.distributions.sum().backward()
    assert all(bool(torch.isfinite(p.grad).all()) for p in g.parameters())  # no nan from -inf


def test_after_eos_rows_are_pad() -> None:
    g = make(eos=True)
    noise = fixed_noise(3, 6)
    noise[0, 1, EOS_ID] = 1e3   # row 0 ends at step 2
    noise[1, 0, EOS_ID] = 1e3   # row 1 at step 1
    noise[2, :, EOS_ID] = -1e3  # row 2 never ends
    s = g(bos(3), routine=partial(gumbel_sample, args=GumbelArgs(beta=2.0, max_len=6, mode="soft", noise=noise)))
    assert s.lengths.tolist() == [2, 1, 6]
    assert s.tokens[0, 1] == EOS_ID and s.tokens[1, 0] == EOS_ID
    pad = F.one_hot(torch.tensor(PAD_ID), VOCAB).double()
    for row, end in ((0, 2), (1, 1)):
        assert bool((s.tokens[row, end:] == PAD_ID).all())
        assert torch.equal(s.distributions[row, end:], pad.expand(6 - end, VOCAB))
    assert not bool((s.tokens[2] == PAD_ID).any())


def test_gumbel_max_draws_follow_the_softmax() -> None:
    logits = torch.tensor([0.5, -1.0, 2.0, 0.0])
    noise = gumbel_noise((40000, 4), generator=torch.Generator().manual_seed(0))
    assert bool(torch.isfinite(noise).all())
    freq = torch.bincount((logits + noise).argmax(-1), minlength=4).float() / 40000
    torch.testing.assert_close(freq, torch.softmax(logits, -1), atol=0.01, rtol=0)


@pytest.mark.parametrize("kwargs, match", [({"beta": 0.0}, "beta"), ({"max_len": 0}, "max_len"),
                                           ({"mode": "hard"}, "mode")])
def test_bad_args(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GumbelArgs(**{"beta": 1.0, "max_len": 3, **kwargs})


# ---- estimator --------------------------------------------------------------------------------------------------
def tiny_discriminator(input_mode: str = "distributions") -> CNNDiscriminator:
    torch.manual_seed(3)
    return CNNDiscriminator(input_mode=input_mode, vocab_size=VOCAB, embedding_size=6,  # type: ignore[arg-type]
                            filter_sizes=[2, 3], num_filters=[4, 4], dropout=0.0)


def real_batch() -> TokenBatch:
    tokens = torch.tensor([[4, 5, 6, EOS_ID, PAD_ID], [7, 8, 4, 5, EOS_ID], [6, EOS_ID, PAD_ID, PAD_ID, PAD_ID]])
    return TokenBatch(tokens, (tokens != PAD_ID).sum(1))


def test_discriminator_reads_real_one_hots_as_tokens() -> None:
    d_dist, d_tok = tiny_discriminator(), tiny_discriminator("tokens")
    d_tok.load_state_dict(d_dist.state_dict())
    real = real_batch()
    one_hots = one_hot_batch(real, VOCAB)
    torch.testing.assert_close(d_dist.forward_embedded(d_dist.embed(one_hots), real.lengths), d_tok(real.tokens))


@pytest.mark.parametrize("gan_loss", ["rsgan", "nsgan", "wgan-gp", "hinge", "bce"])
@pytest.mark.parametrize("mode", ["soft", "straight_through"])
def test_each_loss_updates_only_its_network(gan_loss: str, mode: str) -> None:
    g, d = make(eos=True, dtype=torch.float32), tiny_discriminator()
    est = estimator("gumbel", max_len=5, mode=mode, gan_loss=gan_loss, total_steps=10)
    loss, logs = est.generator_loss(g, d, real_batch(), step=5)
    loss.backward()
    assert logs["beta"] == inverse_temperature("exp", 5, 10, 100.0)
    assert all(p.grad is None for p in d.parameters()) and all(p.requires_grad for p in d.parameters())
    assert sum(float(p.grad.abs().sum()) for p in g.parameters()) > 0
    g.zero_grad(set_to_none=True)
    loss, logs = est.discriminator_loss(g, d, real_batch(), step=5)
    loss.backward()
    assert all(p.grad is None for p in g.parameters())
    assert sum(float(p.grad.abs().sum()) for p in d.parameters() if p.grad is not None) > 0
    assert ("gradient_penalty" in logs) == (gan_loss == "wgan-gp")
    with torch.no_grad():  # held-out accuracy: logs only, no penalty (it needs autograd)
        assert {"d_acc_real", "d_acc_fake"} <= set(est.discriminator_loss(g, d, real_batch(), step=5)[1])


def test_gradient_penalty_is_weighted() -> None:
    g, d = make(eos=True, dtype=torch.float32), tiny_discriminator()
    losses = []
    for weight in (0.0, 10.0):
        torch.manual_seed(7)  # same fakes, same interpolation
        est = estimator("gumbel", max_len=5, gan_loss="wgan-gp", gp_weight=weight)
        losses.append(est.discriminator_loss(g, d, real_batch(), step=0))
    (plain, _), (penalised, logs) = losses
    assert float((penalised - plain).detach()) == pytest.approx(10.0 * logs["gradient_penalty"], rel=1e-5)
    assert logs["gradient_penalty"] > 0


@pytest.mark.parametrize("kwargs, match", [({"mode": "hard"}, "mode"), ({"schedule": "cosine"}, "schedule"),
                                           ({"beta_max": 0.5}, "beta_max"),
                                           ({"gan_loss": "hinge", "label_smoothing": 0.1}, "label_smoothing")])
def test_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(UserError, match=match):
        estimator("gumbel", max_len=5, **kwargs)


# ---- end to end: the shipped configs oracle_gumbel and coco_gumbel with tiny models ------------------------------
@pytest.mark.parametrize("data, options, schedule", [
    ("oracle", ["gumbel.mode=soft", "adversarial.gan_loss=rsgan"], "exp"),
    ("coco", ["gumbel.mode=straight_through", "adversarial.gan_loss=wgan-gp"], "linear"),
])
def test_tiny_gumbel_train_end_to_end(data: str, options: list[str], schedule: str, tmp_path: Path,
                                      request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    args = request.getfixturevalue(f"tiny_{data}_args")
    run = tmp_path / "run"
    code = main(["train", "--config", f"{data}_gumbel", f"run.dir={run}", *args, "adversarial.estimator=gumbel",
                 f"gumbel.schedule={schedule}", "gumbel.beta_max=50", "adversarial.rounds=3", *options])
    assert code == 0
    assert "after adversarial training, gumbel" in capsys.readouterr().out
    assert (run / "checkpoints" / "last.pt").is_file()
    assert load_checkpoint(run)["phase"] == "done"
    records = [r for r in read_metrics(run / "metrics.jsonl") if r["event"] == "adversarial"]
    assert len(records) == 3
    # one generator step per round, N = 3 steps: round r logs beta(r - 1)
    expected = [inverse_temperature(schedule, n, 3, 50.0) for n in range(3)]  # type: ignore[arg-type]
    assert [r["beta"] for r in records] == pytest.approx(expected, rel=1e-9)
    assert all(r["g_grad_norm"] > 0 for r in records)
