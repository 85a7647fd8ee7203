"""The compiled convolutions with max-pooling (models/pooled_conv.py, built by models/kernels.py) against torch's:
the fused forward's maxima and winning windows, and the backward from the winning windows."""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable
from typing import Any

import pytest
import torch

from tests.helpers import at_thread_counts, eight_lane_kernels, preset_cnn, thread_count_kept
from textgan.models import kernels, pooled_conv
from textgan.models.discriminator import CNNDiscriminator

V = 12
needs_kernels = pytest.mark.skipif(not kernels.available(), reason="no C compiler: the kernels cannot be built")


def pair(preset: str, mode: str = "tokens", **kw: Any) -> tuple[CNNDiscriminator, CNNDiscriminator]:
    """Two CNNs with the same weights, the winning-window backward on in the first and off in the second."""
    args: dict[str, Any] = {"vocab_size": V} if mode != "features" else {"feature_size": 7}
    torch.manual_seed(0)
    on = preset_cnn(preset, mode, **args, **{"winning_window_grad": True, **kw})
    off = preset_cnn(preset, mode, **args, **{**kw, "winning_window_grad": False})
    off.load_state_dict(on.state_dict())
    return on.eval(), off.eval()  # dropout off: both see the same head input


def ragged_tokens(rows: int, steps: int, seed: int = 0) -> torch.Tensor:
    """Token rows (B, T) of random lengths 1..T (PAD after), so groups of short rows, masks and bias columns occur."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(4, V, (rows, steps), generator=g)
    lengths = torch.randint(1, steps + 1, (rows,), generator=g)
    return x.masked_fill(torch.arange(steps) >= lengths.unsqueeze(1), 0)


def gradients(d: CNNDiscriminator, loss: Callable[[CNNDiscriminator], torch.Tensor]) -> dict[str, torch.Tensor]:
    d.zero_grad(set_to_none=True)
    loss(d).backward()
    return {name: p.grad.clone() for name, p in d.named_parameters() if p.grad is not None}


def assert_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        scale = float(b[name].abs().max()) + 1e-12
        assert float((a[name] - b[name]).abs().max()) <= 1e-5 * scale, name


def tokens_loss(x: torch.Tensor) -> Callable[[CNNDiscriminator], torch.Tensor]:
    weights = torch.linspace(-1, 1, x.shape[0])
    return lambda d: (d(x) * weights).sum()


def embedded_loss(x: torch.Tensor) -> Callable[[CNNDiscriminator], torch.Tensor]:
    return lambda d: d.forward_embedded(d.embed(x)).square().sum()


def r1_loss(x: torch.Tensor) -> Callable[[CNNDiscriminator], torch.Tensor]:
    """The R1 penalty's shape: the squared input gradient, itself differentiated (create_graph)."""
    def loss(d: CNNDiscriminator) -> torch.Tensor:
        e = d.embed(x).detach().requires_grad_()
        (grad,) = torch.autograd.grad(d.forward_embedded(e, d.token_lengths(x)).sum(), e, create_graph=True)
        return grad.square().sum()
    return loss


def drawn(seed: int) -> torch.Generator:
    """A generator of its own for a case's inputs: the same inputs in every process. (Drawn from the global one at
    import, they changed from run to run, and about one draw in 75 of the no-padding case had two windows within
    round-off of each other, where torch's max and the kernel may keep different ones.)"""
    return torch.Generator().manual_seed(seed)


CASES = [  # (preset, input mode, loss)
    ("seqgan", "tokens", tokens_loss(ragged_tokens(48, 30))),  # grouped rows, masks, short groups
    ("seqgan", "tokens", tokens_loss(ragged_tokens(7, 9, seed=1))),  # every row shorter than the widest filter
    ("seqgan", "tokens", tokens_loss(torch.randint(4, V, (16, 25), generator=drawn(0)))),  # no padding
    ("small", "tokens", tokens_loss(ragged_tokens(20, 12, seed=2))),
    ("small", "distributions", embedded_loss(torch.softmax(torch.randn(6, 10, V, generator=drawn(1)), -1))),
    ("small", "features", embedded_loss(torch.randn(6, 10, 7, generator=drawn(2)))),
    ("seqgan", "tokens", r1_loss(ragged_tokens(12, 24, seed=3))),  # differentiated twice
]


@needs_kernels
@pytest.mark.parametrize("preset,mode,loss", CASES)
def test_same_gradients_as_the_dense_backward(preset: str, mode: str,
                                              loss: Callable[[CNNDiscriminator], torch.Tensor]) -> None:
    on, off = pair(preset, mode)
    assert_close(gradients(on, loss), gradients(off, loss))


@needs_kernels
def test_input_gradient_and_logits() -> None:
    on, off = pair("seqgan")
    x = ragged_tokens(33, 28, seed=4)
    grads, logits = [], []
    for d in (on, off):
        e = d.embed(x).detach().requires_grad_()
        out = d.forward_embedded(e, d.token_lengths(x))
        out.sum().backward()
        grads.append(e.grad)
        logits.append(out.detach())
    assert float((logits[0] - logits[1]).abs().max()) <= 1e-5 * float(logits[1].abs().max())  # summation order
    assert float((grads[0] - grads[1]).abs().max()) <= 1e-5 * float(grads[1].abs().max())


def dense_pooled(x: torch.Tensor, seen: torch.Tensor | None, tokens: torch.Tensor | None, weights: list[torch.Tensor],
                 biases: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """torch's pooled maxima and first winning windows, both (B, sum C), of x (B, T, E): every window convolved,
    those ending past seen[b] masked, those starting at or past tokens[b] replaced by one bias column (start -1)."""
    values, starts = [], []
    for weight, bias in zip(weights, biases):
        width = weight.shape[2]
        out = torch.nn.functional.conv1d(x.transpose(1, 2), weight, bias)  # (B, C, P)
        position = torch.arange(out.shape[2])  # (P,)
        ends = seen - width if seen is not None else torch.full((x.shape[0],), out.shape[2] - 1)  # (B,) last window
        out = out.masked_fill(position > ends.view(-1, 1, 1), -float("inf"))
        if tokens is not None:
            padding = (position >= tokens.view(-1, 1)) & (position <= ends.view(-1, 1))  # (B, P) over zeros alone
            out = out.masked_fill(position >= tokens.view(-1, 1, 1), -float("inf"))
            column = torch.where(padding.any(1, keepdim=True), bias.view(1, -1), -float("inf"))  # (B, C)
            out = torch.cat([out, column.unsqueeze(2)], dim=2)
        best = out.max(dim=2)
        values.append(best.values)
        starts.append(best.indices.masked_fill(best.indices == out.shape[2] - 1 if tokens is not None
                                               else torch.zeros_like(best.indices, dtype=torch.bool), -1))
    return torch.cat(values, dim=1), torch.cat(starts, dim=1)


FORWARDS = [  # (rows, positions, dim, widths, channels, seen, tokens)
    (9, 20, 64, (1, 2, 3, 20), (100, 200, 160, 7), None, None),  # lane groups of 16, 8 and a ragged one
    (5, 37, 16, (1, 5, 15), (16, 9, 24), (37, 20, 25, 36, 31), None),  # masks: each row its own window count
    (6, 20, 8, (2, 10, 20), (8, 12, 3), None, (4,) * 6),  # rows shorter than the widest filter: bias columns
    (3, 25, 5, (4,), (1,), None, (1, 1, 1)),  # one window convolved and the bias column
    (7, 20, 8, (1, 3, 20), (9, 16, 5), None, (0, 1, 3, 17, 18, 19, 20)),  # each row its own tokens; one empty
    (6, 26, 8, (2, 5), (8, 7), (20, 20, 26, 22, 20, 20), (3, 19, 26, 22, 20, 2)),  # masks and tokens together
    (70, 13, 12, (3, 13), (40, 17), None, None),  # more rows than threads split
    (150, 12, 8, (1, 3, 5), (8, 20, 5), tuple(5 + i * 7 % 8 for i in range(150)), None),  # register tiles
    # across rows of 1..8 windows; more rows per thread than the kernel holds maxima for at once (64)
]


@needs_kernels
@pytest.mark.parametrize("rows,steps,dim,widths,channels,seen,tokens", FORWARDS)
def test_fused_forward_matches_conv_mask_and_max(rows: int, steps: int, dim: int, widths: tuple[int, ...],
                                                 channels: tuple[int, ...], seen: tuple[int, ...] | None,
                                                 tokens: tuple[int, ...] | None) -> None:
    g = torch.Generator().manual_seed(rows * steps)
    x = torch.randn(rows, steps, dim, generator=g)
    if tokens is not None:  # zero vectors from each row's tokens on, as the PAD row's embedding
        x = x.masked_fill(torch.arange(steps).view(1, -1, 1) >= torch.tensor(tokens).view(-1, 1, 1), 0.0)
    weights = [torch.randn(c, dim, w, generator=g) / (w * dim) ** 0.5 for c, w in zip(channels, widths)]
    biases = [torch.randn(c, generator=g) for c in channels]
    seen_t = None if seen is None else torch.tensor(seen)
    tokens_t = None if tokens is None else torch.tensor(tokens)
    read = [pooled_conv.windows(rows, steps, seen_t, tokens_t, w) for w in widths]
    values, starts = pooled_conv._conv_max(x, read, weights, biases)
    want_values, want_starts = dense_pooled(x, seen_t, tokens_t, weights, biases)
    assert float((values - want_values).abs().max()) <= 1e-5 * float(want_values.abs().max())
    assert torch.equal(starts, want_starts)  # random data: no two windows within round-off of each other


@needs_kernels
def test_same_values_and_gradients_for_any_thread_count() -> None:
    """The forward's rows and the backward's channels and rows are split over torch's threads: bit-identical."""
    g = torch.Generator().manual_seed(0)
    e = torch.randn(33, 24, 16, generator=g)
    weights = [torch.randn(20, 16, 3, generator=g), torch.randn(9, 16, 20, generator=g)]
    biases = [torch.randn(20, generator=g), torch.randn(9, generator=g)]
    seen = torch.randint(20, 25, (33,), generator=g)
    def values_and_gradients() -> list[torch.Tensor]:
        inputs = [t.clone().requires_grad_() for t in [e, *weights, *biases]]
        out = pooled_conv.pooled(inputs[0], seen, None, (3, 20), inputs[1:3], inputs[3:])
        (out * torch.linspace(-1, 1, out.shape[1])).sum().backward()
        return [out.detach()] + [t.grad for t in inputs]

    results = at_thread_counts((1, 2, 5), values_and_gradients)
    assert all(torch.equal(a, b) for result in results[1:] for a, b in zip(result, results[0]))


def _conv_and_gradients(seed: int = 0) -> list[torch.Tensor]:
    """Values and gradients of the compiled kernels on ragged rows: channel counts that fill no, part of and
    several lane groups, one filter as wide as the rows and rows with a bias-only window."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(33, 24, 16), (20, 16, 3), (9, 16, 20), (100, 16, 1), (20,), (9,), (100,)]
    inputs = [torch.randn(*shape, generator=g).requires_grad_() for shape in shapes]
    seen = torch.randint(1, 25, (33,), generator=g)
    out = pooled_conv.pooled(inputs[0], seen, None, (3, 20, 1), inputs[1:4], inputs[4:])
    (out * torch.linspace(-1, 1, out.shape[1])).sum().backward()
    return [out.detach()] + [t.grad for t in inputs]


@needs_kernels
def test_same_numbers_at_either_lane_width(tmp_path: Any) -> None:
    """Built for AVX-512's 16-lane registers or for 8 lanes (the same compiler with AVX-512 off), the kernels give
    bit-identical values and gradients: each sum is the same sequence of operations at either width."""
    if kernels.library().pack_lanes() != 16:
        pytest.skip("the kernels here are built for 8 lanes: no 16-lane build to compare")
    wide = _conv_and_gradients()
    with eight_lane_kernels(tmp_path):
        assert kernels.library().pack_lanes() == 8
        narrow = _conv_and_gradients()
    assert all(torch.equal(a, b) for a, b in zip(wide, narrow))


@needs_kernels
def test_results_do_not_share_memory_with_later_calls() -> None:
    """The kernels reuse scratch memory from call to call: values and gradients already returned must not change
    when the next call runs (width 20, then width 1, whose (C, 1, E) gradient has its transpose's layout)."""
    def call(seed: int) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        inputs = [torch.randn(*shape, generator=g).requires_grad_()
                  for shape in [(5, 22, 8), (9, 8, 20), (16, 8, 1), (9,), (16,)]]
        out = pooled_conv.pooled(inputs[0], None, torch.tensor([3, 22, 0, 9, 21]), (20, 1), inputs[1:3], inputs[3:])
        out.square().sum().backward()
        return [out.detach()] + [t.grad for t in inputs]

    first = call(0)
    kept = [t.clone() for t in first]
    call(1)
    assert all(torch.equal(a, b) for a, b in zip(first, kept))


def _forward_in_child(queue: Any) -> None:
    torch.set_num_threads(2)
    x = torch.ones(4, 20, 8)
    read = [pooled_conv.windows(4, 20, None, None, 3)]
    queue.put(float(pooled_conv._conv_max(x, read, [torch.ones(5, 8, 3)], [torch.zeros(5)])[0].sum()))


@needs_kernels
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_threads_work_in_a_forked_child() -> None:
    """The parent's thread pool does not exist in a forked child: the child must not wait on it."""
    with thread_count_kept():
        _forward_in_child(queue.SimpleQueue())  # sets 2 threads: the parent's pool exists now
    context = multiprocessing.get_context("fork")
    results = context.SimpleQueue()
    child = context.Process(target=_forward_in_child, args=(results,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0
    assert results.get() == 4 * 5 * 3 * 8  # every window of ones against filters of ones


@needs_kernels
def test_frozen_discriminator_passes_the_input_gradient() -> None:
    """A generator's step through a frozen D (as Gumbel-softmax takes it): only the input gradient, the dense one."""
    on, off = pair("seqgan", "distributions")
    probs = torch.softmax(torch.randn(9, 21, V), -1)
    grads = []
    for d in (on, off):
        d.requires_grad_(False)
        x = probs.clone().requires_grad_()
        d(x).sum().backward()
        grads.append(x.grad)
    assert on._winning_window_grad(on.embed(probs.requires_grad_()).transpose(1, 2))
    assert float((grads[0] - grads[1]).abs().max()) <= 1e-5 * float(grads[1].abs().max())


@needs_kernels
def test_used_only_where_it_applies() -> None:
    on, _ = pair("small")
    x = torch.randn(2, 64, 9, requires_grad=True)
    assert on._winning_window_grad(x)
    with torch.no_grad():
        assert not on._winning_window_grad(x)  # scoring: no backward to give
    assert not on._winning_window_grad(x.bfloat16())
    assert not pair("small", precision="bf16")[0]._winning_window_grad(x)
    assert not pair("small", spectral_norm=True)[0]._winning_window_grad(x)
    assert not pair("small", winning_window_grad=False)[0]._winning_window_grad(x)
    assert not preset_cnn("small", "tokens", vocab_size=V)._winning_window_grad(x)  # off by default


@needs_kernels
def test_same_seed_same_weights() -> None:
    """Training with the winning-window backward is deterministic: two runs end bit-identical."""
    def run() -> dict[str, torch.Tensor]:
        d = pair("seqgan")[0].train()
        optimizer = torch.optim.Adam(d.parameters(), lr=1e-3)
        torch.manual_seed(5)  # dropout
        for step in range(3):
            optimizer.zero_grad(set_to_none=True)
            d(ragged_tokens(16, 22, seed=step)).square().mean().backward()
            optimizer.step()
        return d.state_dict()

    first, second = run(), run()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_without_kernels_the_dense_backward_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "available", lambda: False)
    on, off = pair("small")
    loss = tokens_loss(ragged_tokens(10, 12))
    a, b = gradients(on, loss), gradients(off, loss)
    assert all(torch.equal(a[name], b[name]) for name in b)


def test_a_failed_build_warns_and_reports_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("TEXTGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(kernels.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    kernels.library.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="torch's kernels"):
            assert kernels.library() is None
    finally:
        kernels.library.cache_clear()


@needs_kernels
def test_built_once_into_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("TEXTGAN_CACHE", str(tmp_path))
    kernels.library.cache_clear()
    try:
        assert kernels.library() is not None
        built = list(tmp_path.glob("kernels-*.so"))
        assert len(built) == 1
        stamp = built[0].stat().st_mtime_ns
        kernels.library.cache_clear()
        assert kernels.library() is not None
        assert built[0].stat().st_mtime_ns == stamp  # loaded, not rebuilt
    finally:
        kernels.library.cache_clear()


@needs_kernels
@pytest.mark.parametrize("rejected", ["-falign-loops=", "-march="])
def test_built_by_a_compiler_that_rejects_optional_flags(rejected: str, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Any) -> None:
    """The alignment and native-vector flags are tried first, then dropped: a compiler without them still builds."""
    import stat

    real = kernels.compiler()
    picky = tmp_path / "picky-cc"
    picky.write_text(f'#!/bin/sh\nfor a in "$@"; do case "$a" in {rejected}*) exit 1;; esac; done\nexec {real} "$@"\n')
    picky.chmod(picky.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CC", str(picky))
    monkeypatch.setenv("TEXTGAN_CACHE", str(tmp_path / "cache"))
    kernels.library.cache_clear()
    try:
        assert kernels.library() is not None
        assert len(list((tmp_path / "cache").glob("kernels-*.so"))) == 1
    finally:
        kernels.library.cache_clear()
