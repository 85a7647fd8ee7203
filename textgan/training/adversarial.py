"""Discriminator pretraining and the adversarial loop; the estimator supplies the losses, this code the steps.

Each round: (1) g_steps generator updates from estimator.generator_loss, (1b) optional teacher-forcing steps,
(2) d_steps x d_epochs discriminator epochs from estimator.discriminator_loss on fresh generator samples
(SeqGAN: 1 G step, then 5 x 3 D epochs). SeqGAN draws one negative set per D step and reuses it for its k epochs;
here every D batch draws fresh negatives (the same number of D updates and samples seen, never a stale set).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from textgan.data.batching import TokenBatch, TokenData
from textgan.errors import UserError
from textgan.estimators.interface import Estimator
from textgan.training.distributed import per_rank_batches
from textgan.training.metrics_log import MetricsLog
from textgan.training.mle import clip_and_step, mle_loss


def _mean_logs(logs: list[dict[str, float]]) -> dict[str, float]:
    sums: dict[str, float] = defaultdict(float)
    for entry in logs:
        for key, value in entry.items():
            sums[key] += value
    return {k: v / max(len(logs), 1) for k, v in sums.items()}


def _finite(loss: torch.Tensor, what: str) -> None:
    if not math.isfinite(float(loss.detach())):
        raise UserError(f"{what} is not finite; the last good checkpoint is intact: lower the learning rates "
                        f"(adversarial.g_lr / d_lr) or raise adversarial.clip, then --resume")


def endless_batches(data: TokenData, batch_size: int, seed: int, first_epoch: int, rank: int = 0,
                    world_size: int = 1) -> Iterator[TokenBatch]:
    """Shuffled batches forever, epoch after epoch, reproducible from (seed, epoch)."""
    epoch = first_epoch
    while True:
        yield from data.batches(batch_size, shuffle=True, seed=seed, epoch=epoch, rank=rank, world_size=world_size)
        epoch += 1


def train_discriminator(estimator: Estimator, generator: nn.Module, discriminator: nn.Module,
                        optimizer: torch.optim.Optimizer, real: TokenData, *, epochs: int, num_samples: int,
                        batch_size: int, clip: float, seed: int, epoch_base: int, step: int, device: torch.device,
                        rank: int = 0, world_size: int = 1) -> dict[str, float]:
    """`epochs` epochs of num_samples real sequences (and as many fresh fakes); returns mean logs."""
    discriminator.train()
    per_rank_batches(real.num_batches(batch_size), world_size, "discriminator training")  # every rank has a batch
    batches_per_epoch = max(1, -(-min(num_samples, len(real)) // batch_size) // world_size)  # equal on every rank
    logs = []
    for epoch in range(epochs):
        stream = real.batches(batch_size, shuffle=True, seed=seed, epoch=epoch_base + epoch, rank=rank,
                              world_size=world_size)
        for _, batch in zip(range(batches_per_epoch), stream):
            optimizer.zero_grad(set_to_none=True)
            loss, entry = estimator.discriminator_loss(generator, discriminator, batch.to(device), step)
            _finite(loss, "the discriminator loss")
            loss.backward()
            clip_and_step(discriminator, optimizer, clip)
            logs.append(entry)
    return _mean_logs(logs)


def held_out_accuracy(estimator: Estimator, generator: nn.Module, discriminator: nn.Module, real: TokenData,
                      batch_size: int, device: torch.device, max_batches: int = 8) -> dict[str, float]:
    """D accuracy on held-out real data and fresh fakes, dropout off. Not under no_grad: an estimator's D loss
    may need autograd itself (a WGAN-GP penalty); only the detached logs are kept."""
    was_training = discriminator.training
    discriminator.eval()
    logs = [entry for _, batch in zip(range(max_batches), real.batches(batch_size, shuffle=False))
            for entry in [estimator.discriminator_loss(generator, discriminator, batch.to(device), 0)[1]]]
    discriminator.train(was_training)
    return {f"heldout_{k}": v for k, v in _mean_logs(logs).items() if k.startswith(("d_acc", "d_auc"))}


def pretrain_discriminator(estimator: Estimator, generator: nn.Module, discriminator: nn.Module,
                           optimizer: torch.optim.Optimizer, train: TokenData, valid: TokenData, *, rounds: int,
                           epochs: int, num_samples: int, batch_size: int, clip: float, seed: int,
                           device: torch.device, log: MetricsLog, state: dict[str, Any],
                           on_round_end: Callable[[dict[str, Any]], None], progress: bool = True, rank: int = 0,
                           world_size: int = 1,
                           reduce_metrics: Callable[[dict[str, float]], dict[str, float]] = lambda m: m) -> None:
    """SeqGAN's D pretraining: `rounds` x `epochs` on real vs fresh generator samples; held-out accuracy logged."""
    state.setdefault("round", 0)
    bar = tqdm(total=rounds, initial=state["round"], desc="D pretraining", disable=not progress or rank != 0,
               leave=False, dynamic_ncols=True)
    while state["round"] < rounds:
        r = state["round"]
        metrics = train_discriminator(estimator, generator, discriminator, optimizer, train, epochs=epochs,
                                      num_samples=num_samples, batch_size=batch_size, clip=clip, seed=seed + 7,
                                      epoch_base=r * epochs, step=0, device=device, rank=rank, world_size=world_size)
        metrics = reduce_metrics({**metrics, **held_out_accuracy(estimator, generator, discriminator, valid,
                                                                 batch_size, device)})
        state["round"] = r + 1
        log.log("d_pretrain", state["round"], **metrics)
        bar.update(1)
        bar.set_postfix(acc_real=f"{metrics.get('heldout_d_acc_real', 0):.2f}",
                        acc_fake=f"{metrics.get('heldout_d_acc_fake', 0):.2f}")
        on_round_end(state)
    bar.close()


def train_adversarial(estimator: Estimator, generator: nn.Module, discriminator: nn.Module,
                      g_optimizer: torch.optim.Optimizer, d_optimizer: torch.optim.Optimizer, train: TokenData, *,
                      rounds: int, g_steps: int, d_steps: int, d_epochs: int, d_num_samples: int, batch_size: int,
                      clip: float, mle_steps: int, eval_every: int, seed: int, device: torch.device,
                      log: MetricsLog, state: dict[str, Any], on_round_end: Callable[[dict[str, Any]], None],
                      evaluate: Callable[[], dict[str, float]] | None = None, progress: bool = True,
                      rank: int = 0, world_size: int = 1,
                      reduce_metrics: Callable[[dict[str, float]], dict[str, float]] = lambda m: m) -> None:
    """R rounds of {(1) g_steps G updates, (1b) mle_steps teacher-forcing steps, (2) d_steps x d_epochs of D}."""
    state.setdefault("round", 0)
    state.setdefault("g_step", 0)
    per_rank_batches(train.num_batches(batch_size), world_size, "adversarial training")  # every rank has a batch
    bar = tqdm(total=rounds, initial=state["round"], desc="adversarial", disable=not progress or rank != 0,
               leave=False, dynamic_ncols=True)
    while state["round"] < rounds:
        r = state["round"]
        real = endless_batches(train, batch_size, seed + 11, first_epoch=r * 1000, rank=rank, world_size=world_size)
        # (1) update G
        generator.train()
        g_logs = []
        for _ in range(g_steps):
            g_optimizer.zero_grad(set_to_none=True)
            loss, entry = estimator.generator_loss(generator, discriminator, next(real).to(device), state["g_step"])
            _finite(loss, "the generator loss")
            loss.backward()
            entry["g_grad_norm"] = clip_and_step(generator, g_optimizer, clip)
            state["g_step"] += 1
            g_logs.append(entry)
        # (1b) optional interleaved teacher forcing
        for _ in range(mle_steps):
            g_optimizer.zero_grad(set_to_none=True)
            loss = mle_loss(generator, next(real).to(device))
            loss.backward()
            clip_and_step(generator, g_optimizer, clip)
            g_logs.append({"mle_loss": float(loss.detach())})
        # (2) update D on fresh samples
        d_metrics = {}
        if d_steps:
            d_metrics = train_discriminator(estimator, generator, discriminator, d_optimizer, train,
                                            epochs=d_steps * d_epochs, num_samples=d_num_samples,
                                            batch_size=batch_size, clip=clip, seed=seed + 13,
                                            epoch_base=r * d_steps * d_epochs, step=state["g_step"], device=device,
                                            rank=rank, world_size=world_size)
        metrics = reduce_metrics({**_mean_logs(g_logs), **d_metrics})
        state["round"] = r + 1
        if evaluate is not None and (state["round"] % eval_every == 0 or state["round"] == rounds):
            metrics.update(evaluate())
        log.log("adversarial", state["round"], **metrics)
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in metrics.items() if k in ("g_loss", "reward", "d_loss",
                                                                            "nll_oracle")})
        on_round_end(state)
    bar.close()
