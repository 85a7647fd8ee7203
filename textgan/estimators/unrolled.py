"""Unrolled discriminator (Metz et al. 2016, eq. 5-7) for estimators whose generator loss is differentiable.

theta_D^0 = theta_D; theta_D^{k+1} = theta_D^k - lr * grad_{theta_D^k} L_D(theta_D^k, theta_G) for k < K (SGD,
the unroll optimizer: plain gradient steps at `lr`, not Adam with its state as in the paper), each step kept in the
graph (create_graph=True), so the generator loss f(theta_G, theta_D^K(theta_G, theta_D)) sends its gradient through
the unrolled parameters into theta_G, the term through dtheta_D^K / dtheta_G included. The copies start as
detached leaves: D's own parameters get no gradient from this and its update is unchanged. Buffers (spectral-norm
vectors, a minibatch reference batch) are read from copies of the module's, so a training-mode forward of the
unrolled D (spectral norm's power iteration) leaves D's own buffers as they were: they stay a function of D's
weights alone, equal on every rank under torchrun.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

Parameters = dict[str, Tensor]


def unrolled_parameters(module: nn.Module, loss: Callable[[Parameters], Tensor], steps: int,
                        lr: float) -> Parameters:
    """The parameters of `module` after `steps` differentiable SGD steps on `loss(parameters)` (its D loss)."""
    params = {name: p.detach().requires_grad_(True) for name, p in module.named_parameters()}
    for _ in range(steps):
        names = list(params)
        grads = torch.autograd.grad(loss(params), [params[n] for n in names], create_graph=True, allow_unused=True)
        params = {n: params[n] if g is None else params[n] - lr * g for n, g in zip(names, grads)}
    return params


def call_with(module: nn.Module, params: Parameters, *args: Tensor) -> Tensor:
    """`module(*args)` with `params` in place of its parameters and copies of its buffers (in-place buffer
    updates of the call do not reach the module)."""
    buffers = {name: b.clone() for name, b in module.named_buffers()}
    return functional_call(module, {**buffers, **params}, args)
