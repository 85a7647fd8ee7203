"""Teacher-forcing (maximum-likelihood) pretraining of the generator, and NLL / perplexity of held-out data."""

from __future__ import annotations

import math
from functools import partial
from itertools import islice
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from textgan.data.batching import TokenBatch, TokenData
from textgan.data.tokenizers import BOS_ID, PAD_ID
from textgan.errors import UserError
from textgan.models.generator import RNNGenerator
from textgan.models.teacher_forcing import teacher_forced_nll
from textgan.models.wrapping import evaluating, unwrap
from textgan.training import fused_step
from textgan.training.context import Hooks, Models, Runtime
from textgan.training.distributed import per_rank_batches
from textgan.training.schedules import MLEProgress, MLESchedule


def mle_loss(generator: nn.Module, batch: TokenBatch, reduction: str = "mean") -> torch.Tensor:
    """NLL of a teacher-forced batch over real tokens (EOS included, padding excluded): mean per token or sum."""
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    inputs = torch.cat([torch.full_like(batch.tokens[:, :1], BOS_ID), batch.tokens[:, :-1]], dim=1)  # (B, T)
    # inside the (possibly DDP-wrapped) generator's forward, so a wrapper sees the pass and averages its gradients
    total = generator(inputs, routine=partial(teacher_forced_nll, targets=batch.tokens, labels=batch.labels)).nll
    return total if reduction == "sum" else total / (batch.tokens != PAD_ID).sum()


@torch.no_grad()
def evaluate_nll(generator: nn.Module, data: TokenData, batch_size: int, device: torch.device) -> dict[str, float]:
    """NLL per token (EOS included, padding excluded; natural log) and perplexity = exp(NLL), dropout off. A
    conditional generator scores labelled data given each sentence's class, unlabelled data under its mixture
    of classes (`mixture_nll`)."""
    total, count = 0.0, 0
    model = unwrap(generator)
    mixture = data.labels is None and isinstance(model, RNNGenerator) and model.num_classes > 0
    with evaluating(generator):
        for batch in data.batches(batch_size, shuffle=False):
            batch = batch.to(device)
            total += float(mixture_nll(model, batch) if mixture else mle_loss(generator, batch, reduction="sum"))
            count += int(batch.lengths.sum())
    nll = total / max(count, 1)
    return {"nll": nll, "ppl": math.exp(min(nll, 700.0)), "tokens": count}


def mixture_nll(generator: RNNGenerator, batch: TokenBatch) -> torch.Tensor:
    """Summed NLL of unlabelled sequences under a conditional generator's mixture of classes:
    -sum_b log sum_c prior_c p(y_b | c), one teacher-forced pass per class."""
    inputs = generator.shift_right(batch.tokens)  # (B, T)
    real = (batch.tokens != PAD_ID).unsqueeze(-1)  # (B, T, 1)
    per_class = []
    for c in range(generator.num_classes):
        labels = torch.full_like(batch.lengths, c)
        logits, _ = generator(inputs, labels=labels)  # (B, T, V)
        logp = torch.log_softmax(logits, -1).gather(-1, batch.tokens.unsqueeze(-1))  # (B, T, 1)
        per_class.append(logp.masked_fill(~real, 0.0).sum((1, 2)))  # (B,) log p(y_b | c)
    joint = torch.stack(per_class, 1) + generator.class_priors.log()  # (B, K)
    return -torch.logsumexp(joint, 1).sum()


def clip_and_step(model: nn.Module, optimizer: torch.optim.Optimizer, clip: float) -> float:
    """Clip the gradient norm (if clip > 0), step, and return the pre-clip norm. As torch's clip_grad_norm_, but
    the gradients are scaled only when its coefficient is below 1 (it multiplies them by 1.0 otherwise: a pass over
    every gradient that changes nothing; ~1% of a discriminator update). Weight gradients an armed backward left
    as factors count in the norm and are stepped by ``fused_step`` (or written out first where it cannot)."""
    deferred: list[fused_step.DeferredLinear] = []
    for layer in fused_step.pending(model):
        if fused_step.fusable(layer, optimizer):
            deferred.append(layer)
        else:
            fused_step.materialize(layer)
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.get_total_norm([p.grad for p in params])  # type: ignore[misc]
    if deferred:
        norm = (norm.square() + sum(fused_step.squared_norm(layer) for layer in deferred)).sqrt()
    scale = None
    coefficient = clip / (norm + 1e-6)  # torch's coefficient
    if clip > 0 and not bool(coefficient >= 1.0):  # a NaN norm is "clipped" too
        torch.nn.utils.clip_grads_with_norm_(params, clip, norm)
        scale = coefficient
    optimizer.step()
    for layer in deferred:
        fused_step.step_fused(layer, optimizer, scale)
    return float(norm)


def validation_nll(generator: nn.Module, valid: TokenData, batch_size: int, runtime: Runtime) -> dict[str, float]:
    """valid_nll / valid_ppl of the (unwrapped) generator; with several ranks each scores every world_size-th
    sequence and the per-token NLL is the ratio of the summed NLL and token counts over ranks."""
    rank, world_size, device = runtime.rank, runtime.world_size, runtime.device
    if world_size == 1:
        return {f"valid_{k}": v for k, v in evaluate_nll(generator, valid, batch_size, device).items() if k != "tokens"}
    part = evaluate_nll(generator, valid.subset(torch.arange(rank, len(valid), world_size)), batch_size, device)
    sums = runtime.reduce_metrics({"total": part["nll"] * part["tokens"], "tokens": float(part["tokens"])})  # means
    nll = sums["total"] / max(sums["tokens"], 1e-12)
    return {"valid_nll": nll, "valid_ppl": math.exp(min(nll, 700.0))}


def train_mle(models: Models, train: TokenData, valid: TokenData, schedule: MLESchedule, progress: MLEProgress,
              runtime: Runtime | None = None, hooks: Hooks | None = None) -> MLEProgress:
    """Teacher-force `models.generator` until the schedule is done (continuing from `progress`), validating after
    each epoch, then `hooks.checkpoint()`; `hooks.evaluate` adds metrics (e.g. NLL-oracle).

    With early stopping on, the weights of the best validation epoch are kept in `progress.best_weights` (so in
    the checkpoint) and the generator ends with them.
    """
    runtime, hooks = runtime or Runtime(), hooks or Hooks()
    generator, optimizer = models.generator, models.g_optimizer
    rank, world_size = runtime.rank, runtime.world_size
    # the same number of steps on every rank
    steps = per_rank_batches(train.num_batches(schedule.batch_size), world_size, "MLE pretraining")
    while not progress.finished(schedule):
        epoch = progress.epoch
        generator.train()
        batches = train.batches(schedule.batch_size, shuffle=True, seed=schedule.seed, epoch=epoch, rank=rank,
                                world_size=world_size)
        bar = tqdm(islice(batches, steps), total=steps, desc=f"MLE epoch {epoch + 1}/{schedule.epochs}",
                   disable=not runtime.bars, leave=False, dynamic_ncols=True)
        running = 0.0
        for batch in bar:
            batch = batch.to(runtime.device)
            optimizer.zero_grad(set_to_none=True)
            loss = mle_loss(generator, batch)
            loss.backward()
            clip_and_step(generator, optimizer, schedule.clip)
            progress.step += 1
            running = 0.9 * running + 0.1 * loss.item() if running else loss.item()
            bar.set_postfix(loss=f"{running:.3f}")
        metrics = validation_nll(unwrap(generator), valid, schedule.batch_size, runtime)
        if hooks.evaluate is not None and rank == 0:
            metrics.update(hooks.evaluate())
        if world_size > 1:
            running = runtime.reduce_metrics({"train_loss": running})["train_loss"]
        metrics["train_loss"] = running
        progress.epoch = epoch + 1
        if metrics["valid_nll"] < progress.best - 1e-6:
            progress.best, progress.bad_epochs, progress.best_epoch = metrics["valid_nll"], 0, progress.epoch
            if schedule.patience:
                progress.best_weights = {k: v.detach().clone() for k, v in unwrap(generator).state_dict().items()}
        else:
            progress.bad_epochs += 1
        record = runtime.record("mle", progress.epoch, **metrics)
        if runtime.bars:
            tqdm.write("  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                 for k, v in record.items() if k not in ("event", "time")))
        check_finite(generator, metrics)
        hooks.checkpoint()
    if schedule.patience and progress.bad_epochs and progress.best_weights is not None:
        unwrap(generator).load_state_dict(progress.best_weights)
        runtime.record("mle_best", progress.epoch, restored_epoch=progress.best_epoch, valid_nll=progress.best)
        if runtime.bars:
            tqdm.write(f"early stopping: restored the weights of epoch {progress.best_epoch} "
                       f"(valid_nll={progress.best:.4f})")
    return progress


def check_finite(model: nn.Module, metrics: dict[str, Any] | None = None) -> None:
    """Stop with a clear message (the last good checkpoint intact) when training produced NaN/inf."""
    bad = [k for k, v in (metrics or {}).items() if isinstance(v, float) and not math.isfinite(v)]
    if bad or not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        what = ", ".join(bad) if bad else "model parameters"
        raise UserError(f"training diverged ({what} not finite); the last good checkpoint is intact: lower the "
                        f"learning rate or raise the clip, then --resume")
