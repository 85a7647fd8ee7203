"""mle_loss keeps its definition: NLL per real token (EOS included, PAD excluded) of the teacher-forced logits;
clip_and_step is torch's clipping then the step."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from textgan.data.batching import TokenBatch, pad_rows
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from textgan.models.generator import RNNGenerator
from textgan.training.mle import clip_and_step, mle_loss


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mle_loss_is_cross_entropy_of_the_teacher_forced_logits(reduction: str) -> None:
    torch.manual_seed(0)
    g = RNNGenerator(vocab_size=20, embedding_size=6, hidden_size=8, banned_ids=[PAD_ID, BOS_ID, UNK_ID]).double()
    data = pad_rows([[5, 6, 7, EOS_ID], [8, EOS_ID], [9, 9, 9, 9, 9, EOS_ID]])
    batch = TokenBatch(data.tokens, data.lengths)
    logits, _ = g(RNNGenerator.shift_right(batch.tokens))  # (B, T, V)
    expected = F.cross_entropy(logits.reshape(-1, 20), batch.tokens.reshape(-1), ignore_index=PAD_ID,
                               reduction=reduction)
    torch.testing.assert_close(mle_loss(g, batch, reduction), expected, rtol=1e-12, atol=1e-12)


def test_unknown_reduction_is_an_error() -> None:
    g = RNNGenerator(vocab_size=20, embedding_size=6, hidden_size=8)
    with pytest.raises(ValueError, match="reduction"):
        mle_loss(g, TokenBatch(torch.tensor([[5, EOS_ID]]), torch.tensor([2])), "none")


@pytest.mark.parametrize("patience,valid_nlls,epochs_run,kept_epoch", [
    (2, [3.0, 2.0, 2.5, 2.6, 1.0], 4, 2),   # stops after 2 epochs without improvement, keeps epoch 2
    (3, [3.0, 2.0, 2.5, 1.5, 1.6], 5, 4),   # runs out of epochs one epoch after its best: keeps epoch 4
    (2, [3.0, 2.0, 1.0, 0.5, 0.4], 5, 5),   # the last epoch is the best: nothing to restore
    (0, [3.0, 2.0, 2.5, 2.6, 2.7], 5, 5),   # early stopping off: the last weights, whatever validation says
])
def test_early_stopping_keeps_the_best_weights(tmp_path, monkeypatch: pytest.MonkeyPatch, patience: int,
                                               valid_nlls: list[float], epochs_run: int, kept_epoch: int) -> None:
    from textgan.data.batching import TokenData
    from textgan.training import mle
    from textgan.training.context import Hooks, Models, Runtime
    from textgan.training.metrics_log import MetricsLog
    from textgan.training.schedules import MLEProgress, MLESchedule

    scripted = iter(valid_nlls)
    monkeypatch.setattr(mle, "validation_nll", lambda *args: {"valid_nll": next(scripted)})
    torch.manual_seed(0)
    g = RNNGenerator(vocab_size=20, embedding_size=6, hidden_size=8)
    data = TokenData(torch.randint(4, 20, (40, 6)), torch.full((40,), 6))
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    progress = MLEProgress()
    hooks = Hooks(checkpoint=lambda: snapshots.update({progress.epoch: {k: v.clone() for k, v in
                                                                        g.state_dict().items()}}))
    runtime = Runtime(log=MetricsLog(tmp_path / "metrics.jsonl"), progress=False)
    mle.train_mle(Models(g, torch.optim.Adam(g.parameters(), lr=0.05)), data, data,
                  MLESchedule(5, 8, clip=5.0, patience=patience), progress, runtime, hooks)
    assert progress.epoch == epochs_run
    for name, value in g.state_dict().items():
        assert torch.equal(value, snapshots[kept_epoch][name]), name
    assert not torch.equal(snapshots[kept_epoch]["head.weight"], snapshots[kept_epoch - 1]["head.weight"])


@pytest.mark.parametrize("clip, scale", [(5.0, 100.0), (5.0, 1e-3), (0.0, 100.0), (5.0, float("nan"))])
def test_clip_and_step_is_torchs_clip_then_step(clip: float, scale: float) -> None:
    """The same gradients, weights and returned norm as clip_grad_norm_ then Adam's step, above and below the clip,
    without a clip, and for a NaN gradient."""
    def stepped(ours: bool) -> tuple[list[torch.Tensor], list[torch.Tensor], float]:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Linear(5, 1, bias=False))
        model[1].weight.requires_grad_(False)  # a parameter without a gradient
        optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
        (model(torch.randn(7, 6)).sum() * scale).backward()
        if ours:
            norm = clip_and_step(model, optimizer, clip)
        else:
            norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else float("inf")))
            optimizer.step()
        grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        return grads, [p.detach().clone() for p in model.parameters()], norm

    ours, torchs = stepped(True), stepped(False)
    for a, b in [*zip(ours[0], torchs[0]), *zip(ours[1], torchs[1])]:
        assert torch.equal(a, b) or (a.isnan().all() and b.isnan().all())
    assert ours[2] == torchs[2] or (math.isnan(ours[2]) and math.isnan(torchs[2]))
