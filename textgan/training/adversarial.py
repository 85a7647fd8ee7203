"""Discriminator pretraining and the adversarial loop; the estimator supplies the losses, this code the steps.

Each round: (1) g_steps generator updates from estimator.generator_loss, (1b) optional teacher-forcing steps,
(2) d_steps x d_epochs discriminator epochs from estimator.discriminator_loss on fresh generator samples
(SeqGAN: 1 G step, then 5 x 3 D epochs). SeqGAN draws one negative set per D step and reuses it for its k epochs;
here every D batch draws fresh negatives (the same number of D updates and samples seen, never a stale set).

A CNN discriminator with minibatch discrimination gets its reference batch at the start of every round (D
pretraining and adversarial): samples of the current generator from a seed derived from (run seed, phase, round)
in a forked RNG, so the training stream is untouched and a resumed round redraws the same batch. Under torchrun
every rank draws the same reference (same seed, same synchronised generator); the minibatch features of a
rank's sequences are computed on that rank against it. An R1 penalty (Mescheder et al. 2018) on D's embedded
real inputs is added to every D loss when the schedule's r1_weight > 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator

import torch
from tqdm.auto import tqdm

from textgan.data.batching import TokenBatch, TokenData
from textgan.errors import UserError
from textgan.estimators.interface import Estimator
from textgan.estimators.losses import r1_penalty
from textgan.models import fake_pool as fake_pools
from textgan.models.deferred_linear import armed
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.wrapping import evaluating, unwrap
from textgan.training.context import Hooks, Models, Runtime
from textgan.training.distributed import per_rank_batches
from textgan.training.fused_step import deferring
from textgan.training.mle import check_finite, clip_and_step, mle_loss
from textgan.training.schedules import AdversarialSchedule, DiscriminatorSchedule, RoundProgress


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


def refresh_reference(models: Models, sample_len: int, seed: int, device: torch.device) -> None:
    """Draw the minibatch-discrimination reference batch of a CNN discriminator that has it on (else nothing)."""
    d = unwrap(models.discriminator) if models.discriminator is not None else None
    if not isinstance(d, CNNDiscriminator) or d.minibatch is None:
        return
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        d.set_reference(unwrap(models.generator).sample(d.minibatch_reference, sample_len).tokens)


def _r1_term(discriminator: torch.nn.Module, real: TokenBatch, weight: float) -> torch.Tensor:
    """gamma / 2 * R1 of D at the embedded real batch (Mescheder et al. 2018, eq. 9)."""
    d = unwrap(discriminator)
    if not isinstance(d, CNNDiscriminator) or d.input_mode == "features":
        raise UserError("discriminator.r1_weight needs the CNN discriminator on tokens or distributions; this "
                        "estimator's discriminator reads other inputs: set discriminator.r1_weight=0")
    return weight / 2 * r1_penalty(d.forward_embedded, d.embed_tokens(real.tokens))


def train_discriminator(estimator: Estimator, models: Models, real: TokenData, *, epochs: int, num_samples: int,
                        batch_size: int, clip: float, seed: int, epoch_base: int, step: int,
                        runtime: Runtime, length_buckets: int = 0, r1_weight: float = 0.0, fake_pool: int = 0,
                        fake_reuse: int = 1) -> dict[str, float]:
    """`epochs` epochs of num_samples real sequences (and as many fresh fakes); returns mean logs. Real batches
    come from length-sorted pools of `length_buckets` batches when > 0 (`TokenData.batches`); R1 penalty of weight
    `r1_weight` when > 0; the generator's token fakes drawn `fake_pool` rows at a time for the whole call, each
    served `fake_reuse` times, when fake_pool > 0 (`models/fake_pool.py`; in length-sorted batches too when
    length_buckets > 0)."""
    discriminator, optimizer = models.discriminator, models.d_optimizer
    assert discriminator is not None and optimizer is not None, "the discriminator phases need models.discriminator"
    rank, world_size = runtime.rank, runtime.world_size
    discriminator.train()
    per_rank_batches(real.num_batches(batch_size), world_size, "discriminator training")  # every rank has a batch
    batches_per_epoch = max(1, -(-min(num_samples, len(real)) // batch_size) // world_size)  # equal on every rank
    logs = []
    with fake_pools.serving(unwrap(models.generator), fake_pool, fake_reuse,
                            budget=epochs * batches_per_epoch * batch_size, buckets=length_buckets,
                            batch_rows=batch_size), deferring(discriminator, optimizer, enabled=world_size == 1):
        for epoch in range(epochs):
            logs += _discriminator_epoch(estimator, models, real.batches(
                batch_size, shuffle=True, seed=seed, epoch=epoch_base + epoch, rank=rank, world_size=world_size,
                length_buckets=length_buckets), batches_per_epoch, clip, step, runtime, r1_weight)
    return _mean_logs(logs)


def _discriminator_epoch(estimator: Estimator, models: Models, stream: Iterator[TokenBatch], batches: int,
                         clip: float, step: int, runtime: Runtime, r1_weight: float) -> list[dict[str, float]]:
    """One epoch of D updates on `batches` real batches of `stream`; the logs of each update."""
    discriminator, optimizer = models.discriminator, models.d_optimizer
    assert discriminator is not None and optimizer is not None
    logs = []
    for _, batch in zip(range(batches), stream):
        optimizer.zero_grad(set_to_none=True)
        batch = batch.to(runtime.device)
        loss, entry = estimator.discriminator_loss(models.generator, discriminator, batch, step)
        if r1_weight > 0:
            penalty = _r1_term(discriminator, batch, r1_weight)
            entry["r1_penalty"] = float(penalty.detach())
            loss = loss + penalty
        _finite(loss, "the discriminator loss")
        with armed(discriminator, enabled=runtime.world_size == 1):  # a DDP wrapper must see every gradient
            loss.backward()
        clip_and_step(discriminator, optimizer, clip)
        logs.append(entry)
    return logs


def held_out_accuracy(estimator: Estimator, models: Models, real: TokenData, batch_size: int,
                      device: torch.device, max_batches: int = 8) -> dict[str, float]:
    """D accuracy on held-out real data and fresh fakes, dropout off. Not under no_grad: an estimator's D loss
    may need autograd itself (a WGAN-GP penalty); only the detached logs are kept."""
    assert models.discriminator is not None
    with evaluating(models.discriminator):
        logs = [estimator.discriminator_loss(models.generator, models.discriminator, batch.to(device), 0)[1]
                for _, batch in zip(range(max_batches), real.batches(batch_size, shuffle=False))]
    return {f"heldout_{k}": v for k, v in _mean_logs(logs).items() if k.startswith(("d_acc", "d_auc"))}


def pretrain_discriminator(estimator: Estimator, models: Models, train: TokenData, valid: TokenData,
                           schedule: DiscriminatorSchedule, progress: RoundProgress, runtime: Runtime | None = None,
                           hooks: Hooks | None = None) -> RoundProgress:
    """SeqGAN's D pretraining: `rounds` x `epochs` on real vs fresh generator samples; held-out accuracy logged;
    `hooks.checkpoint()` after every round."""
    runtime, hooks = runtime or Runtime(), hooks or Hooks()
    bar = tqdm(total=schedule.rounds, initial=progress.round, desc="D pretraining", disable=not runtime.bars,
               leave=False, dynamic_ncols=True)
    while progress.round < schedule.rounds:
        r = progress.round
        refresh_reference(models, train.tokens.size(1), schedule.seed * 100_003 + 2 * r, runtime.device)
        metrics = train_discriminator(estimator, models, train, epochs=schedule.epochs,
                                      num_samples=schedule.num_samples, batch_size=schedule.batch_size,
                                      clip=schedule.clip, seed=schedule.seed + 7, epoch_base=r * schedule.epochs,
                                      step=0, runtime=runtime, length_buckets=schedule.length_buckets,
                                      r1_weight=schedule.r1_weight, fake_pool=schedule.fake_pool,
                                      fake_reuse=schedule.fake_reuse)
        metrics = runtime.reduce_metrics({**metrics, **held_out_accuracy(estimator, models, valid,
                                                                         schedule.batch_size, runtime.device)})
        progress.round = r + 1
        runtime.record("d_pretrain", progress.round, **metrics)
        bar.update(1)
        bar.set_postfix(acc_real=f"{metrics.get('heldout_d_acc_real', 0):.2f}",
                        acc_fake=f"{metrics.get('heldout_d_acc_fake', 0):.2f}")
        check_finite(models.discriminator)  # type: ignore[arg-type]
        hooks.checkpoint()
    bar.close()
    return progress


def train_adversarial(estimator: Estimator, models: Models, train: TokenData, schedule: AdversarialSchedule,
                      progress: RoundProgress, runtime: Runtime | None = None,
                      hooks: Hooks | None = None) -> RoundProgress:
    """R rounds of {(1) g_steps G updates, (1b) mle_steps teacher-forcing steps, (2) d_steps x d_epochs of D}."""
    runtime, hooks = runtime or Runtime(), hooks or Hooks()
    generator, g_optimizer, s = models.generator, models.g_optimizer, schedule
    per_rank_batches(train.num_batches(s.batch_size), runtime.world_size, "adversarial training")  # a batch per rank
    bar = tqdm(total=s.rounds, initial=progress.round, desc="adversarial", disable=not runtime.bars, leave=False,
               dynamic_ncols=True)
    while progress.round < s.rounds:
        r = progress.round
        real = endless_batches(train, s.batch_size, s.seed + 11, first_epoch=r * 1000, rank=runtime.rank,
                               world_size=runtime.world_size)
        refresh_reference(models, train.tokens.size(1), s.seed * 100_003 + 2 * r + 1, runtime.device)
        # (1) update G
        generator.train()
        g_logs = []
        for _ in range(s.g_steps):
            estimator.prepare_generator_step(generator, progress.g_step)
            g_optimizer.zero_grad(set_to_none=True)
            loss, entry = estimator.generator_loss(generator, models.discriminator, next(real).to(runtime.device),
                                                   progress.g_step)
            _finite(loss, "the generator loss")
            loss.backward()
            entry["g_grad_norm"] = clip_and_step(generator, g_optimizer, s.clip)
            progress.g_step += 1
            g_logs.append(entry)
        # (1b) optional interleaved teacher forcing
        for _ in range(s.mle_steps):
            g_optimizer.zero_grad(set_to_none=True)
            loss = mle_loss(generator, next(real).to(runtime.device))
            loss.backward()
            clip_and_step(generator, g_optimizer, s.clip)
            g_logs.append({"mle_loss": float(loss.detach())})
        # (2) update D on fresh samples
        d_metrics = {}
        if s.d_steps:
            d_metrics = train_discriminator(estimator, models, train, epochs=s.d_steps * s.d_epochs,
                                            num_samples=s.d_num_samples, batch_size=s.batch_size, clip=s.clip,
                                            seed=s.seed + 13, epoch_base=r * s.d_steps * s.d_epochs,
                                            step=progress.g_step, runtime=runtime,
                                            length_buckets=s.length_buckets, r1_weight=s.r1_weight,
                                            fake_pool=s.fake_pool, fake_reuse=s.fake_reuse)
        metrics = runtime.reduce_metrics({**_mean_logs(g_logs), **d_metrics})
        progress.round = r + 1
        last = progress.round == s.rounds
        if hooks.evaluate is not None and runtime.rank == 0 and (progress.round % s.eval_every == 0 or last):
            metrics.update(hooks.evaluate())
        runtime.record("adversarial", progress.round, **metrics)
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in metrics.items() if k in ("g_loss", "reward", "d_loss",
                                                                            "nll_oracle")})
        if progress.round % s.checkpoint_every == 0 or last:
            check_finite(generator)
            if models.discriminator is not None:
                check_finite(models.discriminator)
            hooks.checkpoint()
    bar.close()
    return progress
