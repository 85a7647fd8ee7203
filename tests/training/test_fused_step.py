"""The highway's weight gradient left as factors (models/deferred_linear.py) and stepped by training/fused_step.py:
the same Adam update and norm as writing it out, to float round-off, in every case the step meets."""

from __future__ import annotations

import pytest
import torch

from textgan.models.deferred_linear import DeferredLinear, armed
from textgan.models.discriminator import CNNDiscriminator
from textgan.training import fused_step
from textgan.training.mle import clip_and_step

CNN = dict(input_mode="tokens", vocab_size=50, embedding_size=8, filter_sizes=[1, 2, 3], num_filters=[4, 5, 6],
           dropout=0.25)


def tokens(step: int, rows: int = 16) -> torch.Tensor:
    return torch.randint(1, 50, (rows, 7), generator=torch.Generator().manual_seed(step))


def optimizer(d: torch.nn.Module, kind: str) -> torch.optim.Optimizer:
    head = list(d.head.parameters())
    body = [p for p in d.parameters() if all(p is not q for q in head)]
    groups = [{"params": body}, {"params": head, "weight_decay": 0.2}]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=1e-2)
    return torch.optim.Adam(groups, lr=1e-2, fused=kind == "fused", amsgrad=kind == "amsgrad")


def train(fused: bool, kind: str, clip: float, steps: int = 3,
          backwards: int = 1) -> tuple[CNNDiscriminator, list[float], torch.optim.Optimizer]:
    torch.manual_seed(0)
    d = CNNDiscriminator(**CNN, fused_highway_step=fused)
    opt = optimizer(d, kind)
    norms = []
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        for part in range(backwards):  # gradient accumulation: several armed backwards, one step
            with armed(d):
                d(tokens(step * backwards + part)).square().mean().backward()
        norms.append(clip_and_step(d, opt, clip))
    return d, norms, opt


# (optimizer, clip, backwards per step): fused Adam steps the factors; others write them out first
@pytest.mark.parametrize("kind, clip, backwards", [
    ("fused", 0.0, 1), ("fused", 5.0, 1), ("fused", 1e-3, 1), ("fused", 1e-3, 2),
    ("foreach", 1e-3, 1), ("amsgrad", 5.0, 1), ("sgd", 1e-3, 2),
])
def test_deferred_step_equals_the_written_out_gradient(kind: str, clip: float, backwards: int) -> None:
    plain, plain_norms, plain_opt = train(False, kind, clip, backwards=backwards)
    fused, fused_norms, fused_opt = train(True, kind, clip, backwards=backwards)
    assert fused_norms == pytest.approx(plain_norms, rel=1e-5)
    if clip == 1e-3:
        assert min(plain_norms) > 1e-2  # every step clipped: the scaled factors were used
    for (name, p), q in zip(plain.named_parameters(), fused.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6, msg=name)
    weight = (plain.highway.proj.weight, fused.highway.proj.weight)
    for key, value in plain_opt.state[weight[0]].items():  # Adam's moments and step, as torch creates them
        other = fused_opt.state[weight[1]][key]
        assert other.dtype == value.dtype and other.shape == value.shape
        torch.testing.assert_close(other, value, rtol=1e-5, atol=1e-7)
    assert not fused_step.pending(fused)


def test_only_an_armed_backward_defers() -> None:
    torch.manual_seed(0)
    layer = DeferredLinear(6, 4)
    x = torch.randn(5, 6, requires_grad=True)
    layer(x).sum().backward()  # not armed: dW written out as nn.Linear's
    expected = torch.ones(5, 4).t() @ x.detach()
    torch.testing.assert_close(layer.weight.grad, expected)
    assert not layer.deferred.parts
    layer.weight.grad = None
    with armed(layer):
        out = layer(x).sum()
        (grad_x,) = torch.autograd.grad(out, x, create_graph=True)  # differentiated again: written out
        assert not layer.deferred.parts
        grad_x.square().sum().backward()
    assert layer.weight.grad is not None and not layer.deferred.parts
    with armed(layer, enabled=False):  # a distributed wrapper's backward: written out
        layer(x).sum().backward()
    assert not layer.deferred.parts
    layer.weight.grad = None
    with armed(layer):
        layer(x).sum().backward()
    assert layer.weight.grad is None and len(layer.deferred.parts) == 1
    assert not layer.deferred.armed


def test_factors_norm_is_the_written_out_norm() -> None:
    torch.manual_seed(1)
    layer = DeferredLinear(30, 20)
    for rows in (3, 8):
        with armed(layer):
            layer(torch.randn(rows, 30)).square().sum().backward()
    dy, x = layer.deferred.factors()
    assert dy.shape == (11, 20) and x.shape == (11, 30)
    torch.testing.assert_close(fused_step.squared_norm(layer).sqrt(), (dy.t() @ x).norm(), rtol=1e-5, atol=0)


def test_a_weight_with_a_gradient_already_is_written_out_and_summed() -> None:
    torch.manual_seed(2)
    layer = DeferredLinear(5, 3)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2, fused=True)
    x = torch.randn(4, 5)
    with armed(layer):
        layer(x).sum().backward()
    layer.weight.grad = torch.ones(3, 5)  # e.g. a penalty's part written out
    assert not fused_step.fusable(layer, opt)
    fused_step.materialize(layer)
    torch.testing.assert_close(layer.weight.grad, torch.ones(3, 5) + torch.ones(4, 3).t() @ x)


@pytest.mark.parametrize("options", [{}, {"spectral_norm": True}, {"precision": "bf16"}])
def test_state_dicts_and_scores_do_not_depend_on_the_option(options: dict[str, object]) -> None:
    """The same parameters, buffers and logits, in training (dropout, a spectral norm's one power iteration per
    forward, bf16 autocast, where the layer does not defer; where it does, its compiled product gives torch's
    logits to round-off) and in scoring."""
    models = []
    for fused in (False, True):
        torch.manual_seed(0)
        models.append(CNNDiscriminator(**CNN, fused_highway_step=fused, **options))
    plain, fused = models
    assert plain.state_dict().keys() == fused.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), fused.state_dict().values()))
    for step in range(2):
        torch.manual_seed(step)
        want = plain(tokens(step))
        torch.manual_seed(step)
        with armed(fused):
            got = fused(tokens(step))
            got.sum().backward()
        if options:  # the layer does not defer: torch's layer
            assert torch.equal(got, want)
        else:  # the compiled product in training (models/thin_linear.py)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), fused.state_dict().values()))
    plain.eval(), fused.eval()
    assert torch.equal(plain(tokens(0)), fused(tokens(0)))


def fresh() -> tuple[CNNDiscriminator, torch.optim.Optimizer]:
    """The same D with fused Adam each call."""
    torch.manual_seed(0)
    d = CNNDiscriminator(**CNN, fused_highway_step=True)
    return d, optimizer(d, "fused")


def deferred_steps(d: CNNDiscriminator, opt: torch.optim.Optimizer, count: int) -> None:
    """`count` clipped updates of `d` (each forward but the first applies the step the last update left)."""
    for step in range(count):
        opt.zero_grad(set_to_none=True)
        torch.manual_seed(100 + step)  # dropout
        with armed(d):
            d(tokens(step)).square().mean().backward()
        clip_and_step(d, opt, 1e-3)


def score(d: CNNDiscriminator) -> torch.Tensor:
    with torch.no_grad():
        return d(tokens(9))


# what reads D while a step is pending, inside `deferring`: each must see the model as if the step had run
READERS = {
    "leaving the context": lambda d, opt: None,
    "a scoring forward": lambda d, opt: score(d),
    "the model's state dict": lambda d, opt: d.state_dict(),
    "the optimizer's state dict": lambda d, opt: opt.state_dict(),
    "a training forward": lambda d, opt: d(tokens(8)).sum(),
}


@pytest.mark.parametrize("reader", list(READERS))
def test_a_deferred_step_is_the_step_whoever_reads_first(reader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fused_step, "BLOCK_ROWS", 8)  # the highway's 30 rows in 4 blocks
    runs = []
    for defer in (False, True):
        d, opt = fresh()
        with fused_step.deferring(d, opt, enabled=defer):
            deferred_steps(d, opt, 3)
            assert (d.highway.proj.deferred.step is not None) == defer
            torch.manual_seed(7)
            seen = READERS[reader](d, opt)
            assert d.highway.proj.deferred.step is None or reader == "leaving the context"
        assert d.highway.proj.deferred.step is None
        runs.append((d, opt, seen))
    (plain, plain_opt, want), (lazy, lazy_opt, got) = runs
    if isinstance(want, torch.Tensor):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    for (name, p), q in zip(plain.named_parameters(), lazy.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-7, msg=name)
    for key, value in plain_opt.state[plain.highway.proj.weight].items():
        torch.testing.assert_close(lazy_opt.state[lazy.highway.proj.weight][key], value, rtol=1e-5, atol=1e-7)


def test_a_pending_step_is_applied_before_a_load_and_on_an_error() -> None:
    d, opt = fresh()
    initial = {k: v.clone() for k, v in d.state_dict().items()}
    with fused_step.deferring(d, opt):
        deferred_steps(d, opt, 2)
        d.load_state_dict(initial)  # the pending step runs first, then the load replaces the weight
    assert all(torch.equal(v, initial[k]) for k, v in d.state_dict().items())
    assert int(opt.state[d.highway.proj.weight]["step"]) == 2  # and it did run
    before = d.highway.proj.weight.clone()
    with pytest.raises(RuntimeError, match="stop"), fused_step.deferring(d, opt):
        deferred_steps(d, opt, 1)
        raise RuntimeError("stop")
    assert d.highway.proj.deferred.step is None and not d.highway.proj.deferred.defer_step
    assert not torch.equal(d.highway.proj.weight, before)


def test_a_deferred_step_keeps_the_learning_rate_of_its_update() -> None:
    """A scheduler may change the rate between the update that leaves a step and the forward that runs it."""
    runs = []
    for defer in (False, True):
        d, opt = fresh()
        with fused_step.deferring(d, opt, enabled=defer):
            deferred_steps(d, opt, 1)
            for group in opt.param_groups:
                group["lr"] = 0.5
            score(d)
        runs.append(d.highway.proj.weight)
    torch.testing.assert_close(runs[1], runs[0], rtol=1e-5, atol=1e-7)
