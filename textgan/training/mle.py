"""Teacher-forcing (maximum-likelihood) pretraining of the generator, and NLL / perplexity of held-out data."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from itertools import islice
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from textgan.data.batching import TokenBatch, TokenData
from textgan.data.tokenizers import BOS_ID, PAD_ID
from textgan.models.fused_loss import generator_nll
from textgan.models.generator import RNNGenerator
from textgan.models.wrapping import unwrap
from textgan.training.distributed import per_rank_batches
from textgan.training.metrics_log import MetricsLog


def _teacher_forced_nll(generator: RNNGenerator, inputs: torch.Tensor, state: torch.Tensor | None, *,
                        targets: torch.Tensor) -> torch.Tensor:
    """A `routine` for the generator's forward: summed NLL of targets (B, T) read from inputs (B, T)."""
    outputs, _ = generator.run(inputs, state)  # (B, T, H)
    return generator_nll(generator, outputs, targets)  # fused projection + cross-entropy, no (B, T, V) logits


def mle_loss(generator: nn.Module, batch: TokenBatch, reduction: str = "mean") -> torch.Tensor:
    """NLL of a teacher-forced batch over real tokens (EOS included, padding excluded): mean per token or sum."""
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    inputs = torch.cat([torch.full_like(batch.tokens[:, :1], BOS_ID), batch.tokens[:, :-1]], dim=1)  # (B, T)
    # inside the (possibly DDP-wrapped) generator's forward, so a wrapper sees the pass and averages its gradients
    total = generator(inputs, routine=partial(_teacher_forced_nll, targets=batch.tokens))
    return total if reduction == "sum" else total / (batch.tokens != PAD_ID).sum()


@torch.no_grad()
def evaluate_nll(generator: nn.Module, data: TokenData, batch_size: int, device: torch.device) -> dict[str, float]:
    """NLL per token (EOS included, padding excluded; natural log) and perplexity = exp(NLL), dropout off."""
    was_training = generator.training
    generator.eval()
    total, count = 0.0, 0
    for batch in data.batches(batch_size, shuffle=False):
        batch = batch.to(device)
        total += float(mle_loss(generator, batch, reduction="sum"))
        count += int(batch.lengths.sum())
    generator.train(was_training)
    nll = total / max(count, 1)
    return {"nll": nll, "ppl": math.exp(min(nll, 700.0)), "tokens": count}


def clip_and_step(model: nn.Module, optimizer: torch.optim.Optimizer, clip: float) -> float:
    """Clip the gradient norm (if clip > 0), step, and return the pre-clip norm."""
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else float("inf"))
    optimizer.step()
    return float(norm)


def validation_nll(generator: nn.Module, valid: TokenData, batch_size: int, device: torch.device, rank: int,
                   world_size: int, reduce_metrics: Callable[[dict[str, float]], dict[str, float]]) -> dict[str, float]:
    """valid_nll / valid_ppl of the (unwrapped) generator; with several ranks each scores every world_size-th
    sequence and the per-token NLL is the ratio of the summed NLL and token counts over ranks."""
    if world_size == 1:
        return {f"valid_{k}": v for k, v in evaluate_nll(generator, valid, batch_size, device).items() if k != "tokens"}
    part = evaluate_nll(generator, valid.subset(torch.arange(rank, len(valid), world_size)), batch_size, device)
    sums = reduce_metrics({"total": part["nll"] * part["tokens"], "tokens": float(part["tokens"])})  # means
    nll = sums["total"] / max(sums["tokens"], 1e-12)
    return {"valid_nll": nll, "valid_ppl": math.exp(min(nll, 700.0))}


def mle_finished(state: dict[str, Any], epochs: int, patience: int) -> bool:
    """Whether MLE with progress `state` is over: `epochs` done, or early-stopped after `patience` bad epochs."""
    return state.get("epoch", 0) >= epochs or bool(patience and state.get("bad_epochs", 0) >= patience)


def train_mle(generator: nn.Module, optimizer: torch.optim.Optimizer, train: TokenData, valid: TokenData, *,
              epochs: int, batch_size: int, clip: float, patience: int, seed: int, device: torch.device,
              log: MetricsLog, state: dict[str, Any], on_epoch_end: Callable[[dict[str, Any]], None],
              evaluate: Callable[[], dict[str, float]] | None = None, progress: bool = True,
              rank: int = 0, world_size: int = 1,
              reduce_metrics: Callable[[dict[str, float]], dict[str, float]] = lambda m: m) -> dict[str, Any]:
    """Train for `epochs` epochs (continuing from `state`), validating after each.

    `state` ({"epoch", "best", "bad_epochs", "step"}) is updated in place and handed to `on_epoch_end`, which
    saves the checkpoint; `evaluate` adds metrics (e.g. NLL-oracle). Stops early after `patience` epochs
    without a better validation NLL (0: never). With early stopping on, the weights of the best validation epoch
    are kept in `state["best_weights"]` (so in the checkpoint) and the generator ends with them.
    """
    state.setdefault("epoch", 0)
    state.setdefault("step", 0)
    state.setdefault("best", float("inf"))
    state.setdefault("bad_epochs", 0)
    steps = per_rank_batches(train.num_batches(batch_size), world_size, "MLE pretraining")  # equal on every rank
    while not mle_finished(state, epochs, patience):
        epoch = state["epoch"]
        generator.train()
        batches = train.batches(batch_size, shuffle=True, seed=seed, epoch=epoch, rank=rank, world_size=world_size)
        bar = tqdm(islice(batches, steps), total=steps, desc=f"MLE epoch {epoch + 1}/{epochs}",
                   disable=not progress or rank != 0, leave=False, dynamic_ncols=True)
        running = 0.0
        for batch in bar:
            batch = batch.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = mle_loss(generator, batch)
            loss.backward()
            clip_and_step(generator, optimizer, clip)
            state["step"] += 1
            running = 0.9 * running + 0.1 * loss.item() if running else loss.item()
            bar.set_postfix(loss=f"{running:.3f}")
        metrics = validation_nll(unwrap(generator), valid, batch_size, device, rank, world_size, reduce_metrics)
        if evaluate is not None:
            metrics.update(evaluate())
        metrics["train_loss"] = running if world_size == 1 else reduce_metrics({"train_loss": running})["train_loss"]
        state["epoch"] = epoch + 1
        if metrics["valid_nll"] < state["best"] - 1e-6:
            state["best"], state["bad_epochs"], state["best_epoch"] = metrics["valid_nll"], 0, state["epoch"]
            if patience:
                state["best_weights"] = {k: v.detach().clone() for k, v in unwrap(generator).state_dict().items()}
        else:
            state["bad_epochs"] += 1
        record = log.log("mle", state["epoch"], **metrics)
        if rank == 0 and progress:
            tqdm.write("  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                 for k, v in record.items() if k not in ("event", "time")))
        on_epoch_end(state)
    if patience and state["bad_epochs"] and "best_weights" in state:
        unwrap(generator).load_state_dict(state["best_weights"])
        log.log("mle_best", state["epoch"], restored_epoch=state["best_epoch"], valid_nll=state["best"])
        if rank == 0 and progress:
            tqdm.write(f"early stopping: restored the weights of epoch {state['best_epoch']} "
                       f"(valid_nll={state['best']:.4f})")
    return state
