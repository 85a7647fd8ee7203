"""CoT: the generator's per-prefix KL to the mediator, the mediator's MLE on the mixture, banned ids."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest
import torch

import textgan
from textgan.api.builders import build_discriminator, make_estimator
from textgan.config import DISCRIMINATOR_PRESETS
from textgan.data.batching import TokenBatch
from textgan.errors import UserError
from textgan.estimators.cot import mix, prefix_kl
from textgan.models.generator import RNNGenerator
from textgan.training.mle import mle_loss

pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB, STEPS = 7, 4


def lm(seed: int, banned: tuple[int, ...] = (0, 1), eos: int | None = None, size: int = 5) -> RNNGenerator:
    torch.manual_seed(seed)
    return RNNGenerator(vocab_size=VOCAB, embedding_size=size, hidden_size=size, banned_ids=banned, eos_id=eos,
                        init_std=0.5).double()


def hand_kl(g_logits: torch.Tensor, m_logits: torch.Tensor, live: torch.Tensor) -> float:
    """sum_v pi_G (log pi_G - log pi_M) prefix by prefix in plain Python, skipping pi_G = 0; mean over live ones."""
    total, count = 0.0, 0
    for b in range(g_logits.size(0)):
        for t in range(g_logits.size(1)):
            if not live[b, t]:
                continue
            g = [math.exp(v) if v != float("-inf") else 0.0 for v in g_logits[b, t].tolist()]
            m = [math.exp(v) if v != float("-inf") else 0.0 for v in m_logits[b, t].tolist()]
            zg, zm = sum(g), sum(m)
            total += sum(gv / zg * (math.log(gv / zg) - math.log(mv / zm)) for gv, mv in zip(g, m) if gv > 0)
            count += 1
    return total / count


@pytest.mark.parametrize("m_banned", [(0, 1), (0, 1, 3), (0,)])
def test_generator_loss_is_the_hand_computed_kl_on_its_own_samples(m_banned: tuple[int, ...]) -> None:
    g, m = lm(0, banned=(0, 1, 3), eos=2), lm(1, banned=m_banned, eos=2, size=8)
    est = make_estimator("cot", max_len=STEPS)
    real = TokenBatch(torch.randint(4, VOCAB, (6, STEPS)), torch.full((6,), STEPS))
    torch.manual_seed(5)
    loss, logs = est.generator_loss(g, m, real, 0)
    torch.manual_seed(5)
    fake = g.sample(6, STEPS)  # the same draws
    inputs = RNNGenerator.shift_right(fake.tokens)
    live = torch.arange(fake.tokens.size(1)).unsqueeze(0) < fake.lengths.unsqueeze(1)
    expected = hand_kl(g(inputs)[0].detach(), m(inputs)[0].detach(), live)
    value = float(loss.detach())
    assert math.isfinite(value) and value == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert logs["g_loss"] == pytest.approx(expected, rel=1e-10)
    loss.backward()  # finite gradients although pi_G = 0 at the banned ids (and pi_M = 0 where both ban)
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in g.parameters())
    assert all(p.grad is None for p in m.parameters())  # the mediator is a constant of the generator's loss


def test_generator_loss_is_zero_when_generator_and_mediator_are_one_model() -> None:
    g = lm(0, banned=(0, 1, 3), eos=2)
    real = TokenBatch(torch.randint(4, VOCAB, (5, STEPS)), torch.full((5,), STEPS))
    loss, _ = make_estimator("cot", max_len=STEPS).generator_loss(g, g, real, 0)
    assert float(loss.detach()) == 0.0


def test_banned_terms_contribute_exactly_zero() -> None:
    g_logits = torch.tensor([[[float("-inf"), 0.3, float("-inf"), -1.0]]], dtype=torch.float64, requires_grad=True)
    m_logits = torch.tensor([[[float("-inf"), 0.1, float("-inf"), 0.4]]], dtype=torch.float64)
    live = torch.ones(1, 1, dtype=torch.bool)
    loss = prefix_kl(g_logits, m_logits, live)
    p = torch.softmax(torch.tensor([0.3, -1.0], dtype=torch.float64), 0)
    q = torch.softmax(torch.tensor([0.1, 0.4], dtype=torch.float64), 0)
    assert float(loss.detach()) == pytest.approx(float((p * (p.log() - q.log())).sum()), rel=1e-12)
    loss.backward()
    assert bool(torch.isfinite(g_logits.grad).all()) and float(g_logits.grad[0, 0, 0]) == 0.0


def test_mediator_loss_is_its_mle_on_the_balanced_mixture() -> None:
    g, m = lm(0, banned=(0, 1), eos=2), lm(1, banned=(0, 1), eos=2, size=8)
    est = make_estimator("cot", max_len=6)
    real = TokenBatch(torch.tensor([[4, 5, 2, 0], [6, 2, 0, 0], [5, 5, 6, 2]]), torch.tensor([3, 2, 4]))
    torch.manual_seed(3)
    loss, logs = est.discriminator_loss(g, m, real, 0)
    torch.manual_seed(3)
    fake = g.sample(3, 6)
    mixture = mix(real, TokenBatch(fake.tokens, fake.lengths))
    assert mixture.tokens.size(0) == 6 and torch.equal(mixture.tokens[:3, :4], real.tokens)
    assert float(loss.detach()) == pytest.approx(float(mle_loss(m, mixture).detach()), rel=1e-12)
    assert set(logs) == {"d_loss", "mediator_nll_real", "mediator_nll_fake"}


def test_mediator_bans_the_generator_ids_and_is_twice_its_size() -> None:
    est = make_estimator("cot", max_len=5)
    g = RNNGenerator(vocab_size=9, embedding_size=3, hidden_size=4, banned_ids=(0, 1, 2), eos_id=None)
    m = build_discriminator(DISCRIMINATOR_PRESETS["small"], est, 9, 4, generator=g)
    assert isinstance(m, RNNGenerator) and m.eos_id is None
    assert m.embedding.embedding_dim == 6 and m.hidden_size == 8
    assert torch.isinf(m.logit_mask).nonzero().flatten().tolist() == [0, 1, 2]
    sized = build_discriminator(DISCRIMINATOR_PRESETS["small"],
                                make_estimator("cot", max_len=5, mediator_embedding_size=7, mediator_hidden_size=11),
                                9, 4, generator=g)
    assert sized.embedding.embedding_dim == 7 and sized.hidden_size == 11


@pytest.mark.parametrize("name", ["cot"])  # the others condition their generator side on the labels
@pytest.mark.parametrize("loss", ["generator_loss", "discriminator_loss"])
def test_class_labels_are_refused_in_one_line(name: str, loss: str) -> None:
    est = make_estimator(name, max_len=4)
    g = lm(0, banned=(0, 1), eos=2).float()
    d = build_discriminator(DISCRIMINATOR_PRESETS["small"], est, VOCAB, 5, generator=g)
    labelled = TokenBatch(torch.randint(4, VOCAB, (2, 4)), torch.full((2,), 4), labels=torch.tensor([0, 1]))
    with pytest.raises(UserError, match="class labels") as err:
        getattr(est, loss)(g, d, labelled, 0)
    assert "\n" not in str(err.value)


def test_cot_trains_from_scratch_without_mle(tiny_oracle_args: list[str], tmp_path: Path) -> None:
    before, after = textgan.train("oracle_cot", [*tiny_oracle_args, f"run.dir={tmp_path}", "pretrain.epochs=0",
                                                       "d_pretrain.rounds=0"])  # as oracle_cot.yaml
    payload = textgan.load(tmp_path).payload
    assert payload["progress"]["adversarial"]["round"] == 2 and set(payload["models"]) == {"generator",
                                                                                          "discriminator"}
    assert set(payload["optimizers"]) == {"generator", "discriminator"}  # the mediator and its optimizer
    assert all(math.isfinite(v) for v in after.values())


@pytest.mark.parametrize("rounds", [0, 3])
def test_d_pretraining_it_skips_is_said_not_silently_dropped(rounds: int, tiny_oracle_args: list[str],
                                                               tmp_path: Path) -> None:
    """CoT does not pretrain its mediator: d_pretrain.rounds > 0 (e.g. oracle.yaml's 50 after switching estimator)
    is skipped with a warning naming the setting; 0 says nothing."""
    overrides = [*tiny_oracle_args, f"run.dir={tmp_path}", "pretrain.epochs=0", f"d_pretrain.rounds={rounds}"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        textgan.train("oracle_cot", overrides)
    said = [str(w.message) for w in caught if "d_pretrain.rounds" in str(w.message)]
    assert said == ([f"textgan: cot does not pretrain the model it trains against, so d_pretrain.rounds={rounds} is "
                     f"skipped (set d_pretrain.rounds=0)"] if rounds else [])
