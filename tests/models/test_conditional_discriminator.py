"""Class-conditional CNN discriminators: the projection term (Miyato & Koyama 2018) and the (K+1)-class head
(SentiGAN / CatGAN) through every path of the CNN, and the unconditional CNN unchanged."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from tests.helpers import class_discriminator_loss, class_reward, preset_cnn
from textgan.config_io import load_config
from textgan.errors import UserError
from textgan.estimators.class_head import check_class_head_loss
from textgan.models.conv_tables import TokenConvTables
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.prefix_discriminator import PrefixCNNDiscriminator

V, K = 12, 3


def make(mode: str = "tokens", conditional: str = "projection", preset: str = "small", **kw: Any) -> CNNDiscriminator:
    torch.manual_seed(0)
    args: dict[str, Any] = {"vocab_size": V} if mode != "features" else {"feature_size": 7}
    d = preset_cnn(preset, mode, **args, **kw, num_classes=K if conditional != "none" else 0, conditional=conditional)
    if kw.get("minibatch_kernels"):
        d.set_reference(torch.randint(4, V, (5, 9), generator=torch.Generator().manual_seed(7)))
    return d.eval()


def inputs(mode: str, b: int = 6, t: int = 9, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(4, V, (b, t), generator=g)
    tokens[: b // 2, t // 2:] = 0  # half the rows end early
    if mode == "tokens":
        return tokens
    if mode == "distributions":
        return torch.softmax(torch.randn(b, t, V, generator=g), -1)
    return torch.randn(b, t, 7, generator=g)


def labels_of(b: int, seed: int = 2) -> torch.Tensor:
    return torch.randint(0, K, (b,), generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------- the unconditional CNN is unchanged
# Recorded at commit 869134f (before conditioning existed): the next torch.rand after building with seed 0, and the
# eval logits on one thread (and, for the token CNN, the prefix logits of row 1). Same code path: the draws are
# bit-identical on any machine, the logits to float round-off (another CPU's kernels sum in another order).
BEFORE = [
    ("tokens", {}, 0.7459285855293274, [-0.18968689441680908, -0.18947425484657288, -0.031187035143375397,
                                        -0.03580685704946518, -0.14386436343193054, -0.17165309190750122,
                                        -0.24078747630119324, -0.22703680396080017, -0.1358894407749176,
                                        -0.1317979097366333, -0.19227764010429382, -0.18947425484657288]),
    ("distributions", {"spectral_norm": True}, 0.09983205795288086,
     [-0.007292039692401886, -0.10617541521787643, -0.1061641052365303]),
    ("tokens", {"minibatch_kernels": 4}, 0.1294369101524353,
     [-0.22805365920066833, -0.5073432326316833, -0.3243143558502197]),
    ("features", {"highway": False}, 0.8931554555892944, [0.23140959441661835, 0.23677818477153778,
                                                          0.3165910243988037]),
]


@pytest.mark.parametrize("mode,options,next_draw,logits", BEFORE)
def test_unconditional_cnn_is_unchanged(mode: str, options: dict[str, Any], next_draw: float, logits: list[float],
                                        one_thread: None) -> None:
    torch.manual_seed(0)
    args: dict[str, Any] = {"vocab_size": V} if mode != "features" else {"feature_size": 7}
    d = preset_cnn("small", mode, **args, **options)
    assert torch.rand(1).item() == next_draw  # the same random draws while building
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(4, V, (3, 9), generator=g)
    tokens[0, 5:] = 0
    if options.get("minibatch_kernels"):
        d.set_reference(torch.randint(4, V, (5, 9), generator=g))
    x = {"tokens": tokens, "distributions": torch.softmax(torch.randn(3, 9, V, generator=g), -1),
         "features": torch.randn(3, 9, 7, generator=g)}[mode]
    d.eval()
    with torch.no_grad():
        out = d(x, None)
        if mode == "tokens" and not options.get("minibatch_kernels"):
            out = torch.cat([out, PrefixCNNDiscriminator.like(d).eval()(tokens)[1]])
    torch.testing.assert_close(out, torch.tensor(logits), rtol=0.0, atol=1e-6)
    assert "class_embedding.weight" not in d.state_dict() and d.head.out_features == 1


@pytest.mark.parametrize("conditional", ["projection", "classes"])
def test_conditional_modules_come_after_the_unconditional_ones(conditional: str) -> None:
    plain, conditional_cnn = make(conditional="none"), make(conditional=conditional)
    for key, value in plain.state_dict().items():
        if not key.startswith("head."):  # the (K+1)-way head has other shapes
            assert torch.equal(value, conditional_cnn.state_dict()[key]), key


# ---------------------------------------------------------------------------- projection
@pytest.mark.parametrize("mode,options", [
    ("tokens", {}), ("tokens", {"spectral_norm": True}), ("tokens", {"minibatch_kernels": 4}),
    ("tokens", {"highway": False}), ("distributions", {}), ("distributions", {"spectral_norm": True,
                                                                               "minibatch_kernels": 3}),
    ("features", {}),
])
def test_projection_adds_the_class_embeddings_inner_product_with_the_features(mode: str,
                                                                              options: dict[str, Any]) -> None:
    d = make(mode, **options)
    x, y = inputs(mode), labels_of(6)
    with torch.no_grad():
        d.class_embedding.weight.normal_()  # not the small initial values: a term that is clearly there
        term = (d.class_embedding.weight[y] * d.features(x)).sum(-1)  # <V_y, phi(x)>, eval mode: no dropout
        if options.get("spectral_norm"):
            assert not torch.equal(d.class_embedding.weight, d.class_embedding.parametrizations.weight.original)
        torch.testing.assert_close(d(x, y) - d(x), term, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(d(x, y), d(x))


def test_projection_gradient_reaches_distributions_and_the_class_embedding() -> None:
    d = make("distributions").train()
    x = inputs("distributions").requires_grad_(True)
    d(x, labels_of(6)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert d.class_embedding.weight.grad.abs().sum() > 0
    assert {id(p) for p in d.head_parameters()} >= {id(d.class_embedding.weight)}  # L2 on the output layer


# ---------------------------------------------------------------------------- (K+1)-class head
@pytest.mark.parametrize("mode", ["tokens", "distributions", "features"])
def test_class_head_logit_is_the_own_class_log_odds(mode: str) -> None:
    d = make(mode, conditional="classes")
    x, y = inputs(mode), labels_of(6)
    with torch.no_grad():
        probs = torch.softmax(d.class_logits(x), -1)  # (B, K+1)
        assert probs.shape == (6, K + 1)
        torch.testing.assert_close(torch.sigmoid(d(x, y)), probs[torch.arange(6), y])  # P(class = y | x)
        torch.testing.assert_close(torch.sigmoid(d(x)), 1 - probs[:, K])  # P(real)
        if mode == "tokens":
            torch.testing.assert_close(class_reward(d, x, y), probs[torch.arange(6), y])


def test_class_discriminator_loss_is_cross_entropy_with_fakes_as_class_k() -> None:
    real, fake = torch.randn(4, K + 1), torch.randn(3, K + 1)
    y = torch.tensor([0, 2, 1, 2])
    loss, logs = class_discriminator_loss(real, y, fake)
    by_hand = -(torch.log_softmax(real, -1)[torch.arange(4), y].sum() + torch.log_softmax(fake, -1)[:, K].sum()) / 7
    torch.testing.assert_close(loss, by_hand)
    assert logs["d_acc_real"] == float((real.argmax(-1) == y).float().mean())
    assert logs["d_acc_fake"] == float((fake.argmax(-1) == K).float().mean())


def test_class_head_learns_classes_and_fakes() -> None:
    """Real class c is "contains token 4 + c", fakes contain none of those: the head separates all K+1."""
    d = make(conditional="classes").train()
    optimizer = torch.optim.Adam(d.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(3)
    for _ in range(60):
        y = torch.randint(0, K, (32,), generator=g)
        real = torch.randint(4 + K, V, (32, 8), generator=g)
        real[torch.arange(32), torch.randint(0, 8, (32,), generator=g)] = 4 + y
        fake = torch.randint(4 + K, V, (32, 8), generator=g)
        loss, _ = class_discriminator_loss(d.class_logits(real), y, d.class_logits(fake))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    d.eval()
    with torch.no_grad():
        y = torch.arange(K).repeat(4)
        real = torch.randint(4 + K, V, (12, 8), generator=g)
        real[:, 3] = 4 + y
        assert (class_reward(d, real, y) > 0.5).all()
        assert (class_reward(d, real, (y + 1) % K) < 0.5).all()  # the wrong class is not rewarded


# ---------------------------------------------------------------------------- every path conditions the same way
@pytest.mark.parametrize("conditional,preset,length", [("projection", "small", 11), ("classes", "small", 11),
                                                       ("projection", "seqgan", 20), ("classes", "seqgan", 7)])
def test_table_scored_rewards_equal_the_conditional_forward(conditional: str, preset: str, length: int) -> None:
    d = make(conditional=conditional, preset=preset)
    sequences, y = inputs("tokens", 6, length), labels_of(6)
    with torch.no_grad():
        tables = TokenConvTables(d)
        torch.testing.assert_close(tables(sequences, y, chunk_size=4), d(sequences, y), atol=1e-5, rtol=1e-5)
        # completions of every prefix, two per sequence, rows sorted by prefix length; each keeps its sequence's class
        rows_t = torch.arange(1, length).repeat_interleave(6 * 2)
        rows_b = torch.arange(6).repeat_interleave(2).repeat(length - 1)
        fresh = torch.randint(4, V, (rows_t.numel(), length), generator=torch.Generator().manual_seed(3))
        completions = torch.where(torch.arange(length) < rows_t[:, None], sequences[rows_b], fresh)
        scorer = tables.rollout_scorer(sequences, y)
        torch.testing.assert_close(scorer(completions, rows_b, rows_t), d(completions, y[rows_b]), atol=1e-5,
                                   rtol=1e-5)
        torch.testing.assert_close(scorer.sequence_logits, d(sequences, y), atol=1e-5, rtol=1e-5)
        if conditional == "classes":  # the table-scored reward is P(class = y | x)
            torch.testing.assert_close(torch.sigmoid(scorer.sequence_logits), class_reward(d, sequences, y))


@pytest.mark.parametrize("conditional", ["projection", "classes"])
@pytest.mark.parametrize("preset,steps,options", [("small", 9, {}), ("seqgan", 7, {}),
                                                  ("small", 8, {"minibatch_kernels": 4, "spectral_norm": True})])
def test_prefix_logits_equal_each_prefix_alone_with_its_label(conditional: str, preset: str, steps: int,
                                                              options: dict[str, Any]) -> None:
    prefix = PrefixCNNDiscriminator.like(make(conditional=conditional, preset=preset, **options)).eval()
    assert prefix.conditional == conditional and prefix.num_classes == K
    tokens, y = inputs("tokens", 4, steps), labels_of(4)
    with torch.no_grad():
        logits = prefix(tokens, y)  # (B, T)
        embedded = prefix.embed(tokens)
        for b in range(4):
            for t in range(1, steps + 1):
                if tokens[b, t - 1] == 0:
                    assert logits[b, t - 1] == 0
                    continue
                alone = prefix.forward_embedded(embedded[b:b + 1, :t], labels=y[b:b + 1])
                torch.testing.assert_close(logits[b, t - 1], alone[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("conditional", ["projection", "classes"])
def test_one_hot_distributions_score_as_their_tokens(conditional: str) -> None:
    tokens_cnn = make("tokens", conditional)
    gumbel_cnn = make("distributions", conditional)
    gumbel_cnn.load_state_dict(tokens_cnn.state_dict())
    x, y = inputs("tokens"), labels_of(6)  # rows with PAD: the soft front end is told the lengths
    one_hot = F.one_hot(x, V).float()
    with torch.no_grad():
        scored = gumbel_cnn.forward_embedded(gumbel_cnn.embed(one_hot), tokens_cnn.token_lengths(x), y)
        torch.testing.assert_close(scored, tokens_cnn(x, y), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(gumbel_cnn(one_hot[:, :4], y), tokens_cnn(x[:, :4], y), atol=1e-5, rtol=1e-5)


def test_conditional_state_round_trips() -> None:
    d = make(conditional="projection", spectral_norm=True)
    copy = make(conditional="projection", spectral_norm=True)
    with torch.no_grad():
        d.class_embedding.parametrizations.weight.original.normal_()
    copy.load_state_dict(d.state_dict())
    x, y = inputs("tokens"), labels_of(6)
    with torch.no_grad():
        assert torch.equal(copy(x, y), d(x, y))


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs,match", [
    ({"conditional": "both", "num_classes": 2}, "conditional must be one of"),
    ({"conditional": "projection", "num_classes": 0}, "needs num_classes >= 1"),
    ({"conditional": "none", "num_classes": 2}, "needs num_classes = 0"),
])
def test_bad_conditional_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CNNDiscriminator(input_mode="tokens", vocab_size=V, filter_sizes=[2], num_filters=[3], **kwargs)


@pytest.mark.parametrize("conditional,labels,match", [
    ("none", torch.tensor([0, 1, 0, 1, 0, 1]), "unconditional"),
    ("projection", torch.tensor([0, 1, 0, 1, 0, K]), r"class ids in \[0, 3\)"),
    ("classes", torch.tensor([0, 1, 0, 1, 0, -1]), r"class ids in \[0, 3\)"),
    ("classes", torch.tensor([0, 1, 0]), "LongTensor"),
    ("projection", torch.zeros(6), "LongTensor"),
])
def test_bad_labels(conditional: str, labels: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make(conditional=conditional)(inputs("tokens"), labels)


def test_class_logits_and_reward_need_the_class_head() -> None:
    with pytest.raises(ValueError, match="conditional='classes'"):
        make(conditional="projection").class_logits(inputs("tokens"))
    with pytest.raises(ValueError, match="conditional='classes'"):
        class_reward(make(conditional="projection"), inputs("tokens"), labels_of(6))


@pytest.mark.parametrize("overrides,match", [
    (["discriminator.conditional=classes", "adversarial.gan_loss=hinge"], "gan_loss=bce"),
    (["discriminator.conditional=projetcion"], "discriminator.conditional"),
])
def test_config_errors_are_one_line(overrides: list[str], match: str) -> None:
    with pytest.raises(UserError, match=match) as error:
        load_config(None, overrides)
    assert "\n" not in str(error.value).strip()


@pytest.mark.parametrize("gan_loss", ["nsgan", "rsgan", "wgan-gp", "hinge"])
def test_class_head_refuses_other_gan_losses_in_one_line(gan_loss: str) -> None:
    check_class_head_loss("bce")
    with pytest.raises(UserError, match=f"gan_loss={gan_loss}; use gan_loss=bce") as error:
        check_class_head_loss(gan_loss)
    assert "\n" not in str(error.value)


def test_building_a_conditional_cnn_needs_labelled_data() -> None:
    with pytest.raises(UserError, match="needs labelled training data"):
        preset_cnn("small", "tokens", vocab_size=V, conditional="projection")
    assert preset_cnn("small", "tokens", vocab_size=V, num_classes=2, conditional="classes").head.out_features == 3
