"""On labelled data every estimator that conditions its generator draws its fakes (and rollouts, Gumbel-softmax
samples, free-running passes) with the real batch's classes; CoT refuses labels in one line."""

from __future__ import annotations

import pytest
import torch

from textgan.api.builders import build_discriminator, make_estimator
from textgan.config import DISCRIMINATOR_PRESETS
from textgan.data.batching import TokenBatch
from textgan.errors import UserError
from textgan.estimators.registry import ESTIMATORS
from textgan.models.generator import RNNGenerator

CONDITIONAL = [name for name in ESTIMATORS if name != "cot"]
VOCAB = 12


@pytest.mark.parametrize("loss", ["generator_loss", "discriminator_loss"])
@pytest.mark.parametrize("name", CONDITIONAL)
def test_fakes_are_drawn_with_the_real_batchs_labels(name: str, loss: str, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    estimator = make_estimator(name, max_len=5, num_classes=2, num_rollouts=2) if name == "reinforce" else \
        make_estimator(name, max_len=5, num_classes=2)
    g = RNNGenerator(vocab_size=VOCAB, embedding_size=6, hidden_size=6, num_classes=2, class_embedding_size=3,
                     init_std=0.5)
    d = build_discriminator(DISCRIMINATOR_PRESETS["small"], estimator, VOCAB, 6, generator=g)
    real = TokenBatch(torch.randint(4, VOCAB, (4, 5)), torch.full((4,), 5), labels=torch.tensor([0, 1, 1, 0]))
    seen: list[torch.Tensor | None] = []
    original = RNNGenerator.condition

    def spy(self: RNNGenerator, embedded: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        seen.append(labels)
        return original(self, embedded, labels)

    monkeypatch.setattr(RNNGenerator, "condition", spy)
    value, _ = getattr(estimator, loss)(g, d, real, 0)
    assert torch.isfinite(value)
    batch_sized = [labels for labels in seen if labels is not None and labels.numel() == 4]
    assert seen and None not in seen and batch_sized
    assert all(torch.equal(labels, real.labels) for labels in batch_sized)


def test_cot_refuses_labels_when_built() -> None:
    with pytest.raises(UserError, match="cot estimator: does not support class labels") as err:
        make_estimator("cot", max_len=5, num_classes=2)
    assert "\n" not in str(err.value)
