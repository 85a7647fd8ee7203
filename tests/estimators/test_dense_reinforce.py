"""Dense REINFORCE: a per-prefix reward for one token raises its probability; rollout REINFORCE's MaliGAN option
too; sequence-pairing losses are refused in one line."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import estimator as make_estimator
from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from textgan.errors import UserError
from textgan.models.generator import RNNGenerator

FAVOURED = 7


class FavourPrefixToken(torch.nn.Module):
    """A fixed per-prefix 'discriminator': logit +3 at every step that emits one token, -1 elsewhere."""

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return (4.0 * (tokens == FAVOURED).float() - 1.0).masked_fill(tokens == PAD_ID, 0.0)  # (B, T)


class FavourToken(torch.nn.Module):
    """A fixed whole-sequence 'discriminator' for rollout REINFORCE: +4 per occurrence of the token, minus 2."""

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return 4.0 * (tokens == FAVOURED).float().sum(1) - 2.0


def favoured_share(g: RNNGenerator) -> float:
    torch.manual_seed(0)
    return float((g.sample(2000, 5).tokens == FAVOURED).float().mean())


@pytest.mark.parametrize(("name", "d", "options"), [
    ("dense_reinforce", FavourPrefixToken(), {"reward": "2sigmoid-1", "baseline": "ema"}),
    ("dense_reinforce", FavourPrefixToken(), {"reward": "logsigmoid", "baseline": "mean", "gamma": 1.0}),
    ("dense_reinforce", FavourPrefixToken(), {"reward": "sigmoid", "baseline": "none", "gamma": 0.0}),
    ("dense_reinforce", FavourPrefixToken(), {"weighting": "maligan"}),
    ("reinforce", FavourToken(), {"weighting": "maligan", "num_rollouts": 4}),
])
def test_rewarded_token_probability_rises(name: str, d: torch.nn.Module, options: dict) -> None:
    torch.manual_seed(1)
    g = RNNGenerator(vocab_size=12, embedding_size=8, hidden_size=16, init_std=0.5,
                     banned_ids=[PAD_ID, BOS_ID, UNK_ID, EOS_ID], eos_id=None)
    estimator = make_estimator(name, max_len=5, **options)
    optimizer = torch.optim.Adam(g.parameters(), lr=0.02)
    real = TokenBatch(torch.zeros(32, 5, dtype=torch.long), torch.full((32,), 5))
    before = favoured_share(g)
    for step in range(30):
        optimizer.zero_grad()
        loss, _ = estimator.generator_loss(g, d, real, step)
        loss.backward()
        optimizer.step()
    after = favoured_share(g)
    assert after > before + 0.2, (before, after)


@pytest.mark.parametrize("gan_loss", ["rsgan", "wgan-gp"])
def test_dense_reinforce_refuses_pairing_losses(gan_loss: str) -> None:
    with pytest.raises(UserError, match="per-step D loss") as err:
        make_estimator("dense_reinforce", max_len=5, gan_loss=gan_loss)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("discriminator", ["recurrent", "cnn"])
def test_discriminator_loss_is_per_step_and_trains(discriminator: str) -> None:
    from textgan.api.builders import build_cnn
    from textgan.config import DISCRIMINATOR_PRESETS
    from textgan.estimators.interface import DiscriminatorShelf

    torch.manual_seed(0)
    estimator = make_estimator("dense_reinforce", max_len=6, discriminator=discriminator, hidden_size=16,
                               embedding_size=8)
    shelf = DiscriminatorShelf(20, 8, lambda mode: build_cnn(DISCRIMINATOR_PRESETS["small"], mode, 20))
    d = estimator.build_discriminator(shelf)
    g = RNNGenerator(vocab_size=20, embedding_size=8, hidden_size=8, banned_ids=[PAD_ID, BOS_ID, UNK_ID, 9])
    real = TokenBatch(torch.full((16, 6), 9), torch.full((16,), 6))  # real data: token 9 only, never generated
    optimizer = torch.optim.Adam(d.parameters(), lr=0.01)
    for step in range(40):
        optimizer.zero_grad()
        loss, logs = estimator.discriminator_loss(g, d, real, step)
        loss.backward()
        optimizer.step()
    assert logs["d_acc_real"] == 1.0 and logs["d_acc_fake"] == 1.0
