"""Conditional discriminators inside the estimators: every D call of a supporting estimator reads the sequences'
classes, REINFORCE's rewards are d(tokens, labels) (P(class = y | x) with the (K+1)-class head) whatever the
scorer, the (K+1)-class loss read from D's forward equals the cross-entropy over its class logits, and what cannot
condition refuses in one line."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.helpers import class_discriminator_loss, class_reward
from textgan.api.builders import build_discriminator, make_estimator
from textgan.config import DISCRIMINATOR_PRESETS
from textgan.data.batching import TokenBatch
from textgan.errors import UserError
from textgan.estimators import reinforce as reinforce_module
from textgan.estimators.class_head import class_head_loss
from textgan.estimators.registry import ESTIMATORS
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.generator import RNNGenerator

VOCAB, MAX_LEN, CLASSES = 12, 6, 3
MODES = ["projection", "classes"]
# estimator -> options with which its discriminator is the conditional CNN
SUPPORTING = {"reinforce": {"num_rollouts": 2}, "gumbel": {}, "professor": {},
              "dense_reinforce": {"discriminator": "cnn"}, "feature_matching": {}}


def generator() -> RNNGenerator:
    return RNNGenerator(vocab_size=VOCAB, embedding_size=6, hidden_size=6, num_classes=CLASSES,
                        class_embedding_size=3, init_std=0.5)


def build(name: str, mode: str, **options: object) -> tuple[object, RNNGenerator, torch.nn.Module]:
    torch.manual_seed(0)
    estimator = make_estimator(name, max_len=MAX_LEN, num_classes=CLASSES, conditional=mode,
                               **{**SUPPORTING.get(name, {}), **options})
    g = generator()
    d = build_discriminator(dataclasses.replace(DISCRIMINATOR_PRESETS["small"], conditional=mode), estimator,
                            VOCAB, 6, generator=g)
    return estimator, g, d


def real_batch() -> TokenBatch:
    tokens = torch.randint(4, VOCAB, (6, 5))
    tokens[0, 3:] = 0  # a shorter row
    return TokenBatch(tokens, (tokens != 0).sum(1), labels=torch.tensor([0, 1, 2, 2, 1, 0]))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("table", [True, False])
def test_reinforce_rewards_are_the_conditional_d(mode: str, table: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Q at each sequence's last step is sigmoid(d(tokens, labels)); every rollout completion is scored as
    sigmoid(d(completion, labels[b])), its own sequence's class."""
    estimator, g, d = build("reinforce", mode, table_scoring=table, num_rollouts=3)
    d.eval()
    assert isinstance(d, CNNDiscriminator) and d.conditional == mode
    labels = torch.tensor([2, 0, 1, 1, 2, 0, 0, 1])
    scorer_class = reinforce_module.TableScorer if table else reinforce_module.PlainScorer
    scored: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    original = scorer_class.completion_rewards

    def spy(self: object, completions: torch.Tensor, rows_b: torch.Tensor, rows_t: torch.Tensor) -> torch.Tensor:
        rewards = original(self, completions, rows_b, rows_t)  # type: ignore[arg-type]
        scored.append((completions.clone(), rows_b.clone(), rewards))
        return rewards

    monkeypatch.setattr(scorer_class, "completion_rewards", spy)
    monkeypatch.setattr(reinforce_module.Reinforce, "scorer", lambda self, d, samples, labels=None: scorer_class(
        d, samples, "prob", labels))
    torch.manual_seed(1)
    samples, q = estimator.rewards(g, d, labels.numel(), labels)  # type: ignore[attr-defined]
    with torch.no_grad():
        whole = torch.sigmoid(d(samples.tokens, labels))  # (B,)
        rows = torch.arange(labels.numel())
        torch.testing.assert_close(q[rows, samples.lengths - 1], whole, rtol=0, atol=1e-5)
        if mode == "classes":
            torch.testing.assert_close(whole, class_reward(d, samples.tokens, labels), rtol=0, atol=1e-6)
        assert scored
        for completions, rows_b, rewards in scored:
            expected = torch.sigmoid(d(completions, labels[rows_b]))
            torch.testing.assert_close(rewards, expected, rtol=0, atol=1e-5)
            other = torch.sigmoid(d(completions, (labels[rows_b] + 1) % CLASSES))  # another class scores otherwise
            assert not torch.allclose(rewards, other, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("loss", ["generator_loss", "discriminator_loss"])
@pytest.mark.parametrize("name", list(SUPPORTING))
def test_every_d_call_reads_the_rows_classes(name: str, loss: str, mode: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Every scored batch of the real rows' size (the rows, their fakes; rollouts are checked above) reads the real
    rows' labels, except the generated rows of the (K+1)-class head's own loss, which it scores as "fake"."""
    estimator, g, d = build(name, mode, **({"num_rollouts": 5} if name == "reinforce" else {}))  # 5: rollout
    # batches (multiples of 5 rows) are never of the real batch's size
    real = real_batch()
    seen: list[torch.Tensor | None] = []
    original = CNNDiscriminator.head_logits

    def spy(self: CNNDiscriminator, pooled: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        seen.append(labels)
        return original(self, pooled, labels)

    monkeypatch.setattr(CNNDiscriminator, "head_logits", spy)
    value, _ = getattr(estimator, loss)(g, d, real, 0)
    assert torch.isfinite(value)
    if name == "feature_matching" and loss == "generator_loss":  # matches D's features, reads no head
        assert not seen
        return
    row_sized = [labels for labels in seen if labels is None or labels.size(0) in (6, 12)]
    assert row_sized
    labelled = [labels for labels in row_sized if labels is not None]
    assert labelled and all(torch.equal(labels.reshape(-1, 6)[0], real.labels) for labels in labelled)
    unlabelled = len(row_sized) - len(labelled)
    assert unlabelled == (1 if mode == "classes" and loss == "discriminator_loss" else 0)


def test_class_head_loss_is_the_cross_entropy_over_its_class_logits() -> None:
    torch.manual_seed(0)
    d = build("reinforce", "classes")[2]
    d.eval()
    real, fake = torch.randint(1, VOCAB, (5, 6)), torch.randint(1, VOCAB, (7, 4))
    labels = torch.tensor([0, 2, 1, 1, 0])
    expected, _ = class_discriminator_loss(d.class_logits(real), labels, d.class_logits(fake))
    loss, logs = class_head_loss(d(real, labels), d(fake))
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    assert set(logs) == {"d_loss", "d_acc_real", "d_acc_fake"}


def test_projection_d_loss_reaches_the_class_embedding() -> None:
    estimator, g, d = build("reinforce", "projection")
    loss, _ = estimator.discriminator_loss(g, d, real_batch(), 0)  # type: ignore[attr-defined]
    loss.backward()
    assert d.class_embedding is not None and d.class_embedding.weight.grad is not None
    assert float(d.class_embedding.weight.grad.abs().sum()) > 0


@pytest.mark.parametrize("name,context,options,message", [
    *[(name, {"conditional": "projection"}, SUPPORTING.get(name, {}), "needs labelled training data")
      for name in ESTIMATORS],
    ("reinforce", {"conditional": "classes", "num_classes": 2, "gan_loss": "rsgan"}, {},
     "trained by cross-entropy, not gan_loss=rsgan"),
    ("gumbel", {"conditional": "classes", "num_classes": 2, "label_smoothing": 0.1}, {}, "no label smoothing"),
    ("gumbel", {"conditional": "classes", "num_classes": 2}, {"unroll_steps": 1}, "unrolled D"),
    ("dense_reinforce", {"conditional": "projection", "num_classes": 2}, {"discriminator": "recurrent"},
     "recurrent per-step discriminator is unconditional"),
    ("professor", {"conditional": "projection", "num_classes": 2}, {"discriminator": "gru"},
     "GRU behaviour discriminator is unconditional"),
])
def test_what_cannot_condition_refuses_in_one_line(name: str, context: dict, options: dict, message: str) -> None:
    with pytest.raises(UserError, match=message) as err:
        make_estimator(name, max_len=MAX_LEN, **context, **options)
    assert "\n" not in str(err.value)
