"""SeqGAN's CNN in prefix mode: one logit for every prefix y_1..t of a sequence from one pass, each equal to the
prefix scored alone by ``CNNDiscriminator`` (the per-prefix D of dense REINFORCE, ``estimators/dense_reinforce.py``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from textgan.models.discriminator import CNNDiscriminator


class PrefixCNNDiscriminator(CNNDiscriminator):
    """The CNN whose forward scores every prefix (B, T) (``prefix_logits``), trained on prefixes; the same
    parameters as ``CNNDiscriminator``, so either loads the other's weights."""

    @classmethod
    def like(cls, cnn: CNNDiscriminator) -> PrefixCNNDiscriminator:
        """A prefix-mode copy of the token CNN `cnn` (its architecture and weights)."""
        copy = cls(input_mode=cnn.input_mode, vocab_size=cnn.vocab_size, embedding_size=cnn.embedding_size,
                   filter_sizes=cnn.filter_sizes, num_filters=cnn.num_filters, dropout=cnn.dropout.p,
                   highway=cnn.highway is not None, pad_id=cnn.pad_id, precision=cnn.precision,
                   spectral_norm=cnn.spectral_norm, minibatch_kernels=cnn.minibatch_kernels,
                   minibatch_kernel_dims=cnn.minibatch_kernel_dims, minibatch_reference=cnn.minibatch_reference,
                   conditional=cnn.conditional, num_classes=cnn.num_classes,
                   winning_window_grad=cnn.winning_window_grad, fused_highway_step=cnn.fused_highway_step)
        copy.load_state_dict(cnn.state_dict())
        return copy

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Logits (B, T) of every prefix of token ids (B, T) (class ids `labels` (B,) when conditional), 0 after
        each sequence's end."""
        return self.prefix_logits(x, labels)

    def prefix_logits_embedded(self, e: Tensor, labels: Tensor | None = None) -> Tensor:
        """Logits (B, T) of every prefix of an embedded sequence e (B, T, E) (class ids `labels` (B,) for a
        conditional CNN): [b, t-1] equals ``forward_embedded(e[b:b+1, :t])``, the prefix alone zero-padded to the
        widest filter.

        Windows inside a prefix of length t are the full sequence's windows s <= t - w, so a running maximum
        (``cummax``, differentiable) over its convolution outputs gives their pooled maximum. A prefix shorter than
        the widest filter is padded with zeros by ``forward_embedded``, so its maximum also runs over the windows
        that reach past t into that padding: those starting at s = t - m keep their first m < w offsets (running
        sums over each window's per-offset products), those starting at s >= t see only zeros (output: the bias).
        """
        if e.dim() != 3 or e.shape[-1] != self.embedding_size:
            raise ValueError(f"prefix_logits_embedded expects (B, T, {self.embedding_size}), got {tuple(e.shape)}")
        steps, width = e.shape[1], self.max_width
        x = e.transpose(1, 2).contiguous()  # (B, E, T)
        if steps < width:
            x = F.pad(x, (0, width - steps))  # (B, E, max_width)
        short = min(steps, width - 1)  # prefixes t = 1..short run into the padding
        pooled = []
        for conv, w in zip(self.convs, self.filter_sizes):
            full = conv(x).cummax(2).values - conv.bias.unsqueeze(-1)  # (B, C, P) pre-bias: max over windows s <= j
            parts = []
            if short > 0:
                parts.append(self._short_prefix_maxima(x[:, :, :width], conv.weight, full, short))  # (B, C, short)
            if steps > short:
                parts.append(full[:, :, short + 1 - w:steps + 1 - w])  # prefixes t = short+1..T: windows s <= t - w
            pooled.append(torch.cat(parts, dim=2) + conv.bias.unsqueeze(-1))  # (B, C, T)
        return self.head_logits(torch.cat(pooled, dim=1).transpose(1, 2), labels)  # (B, T, sum C) -> (B, T)

    def _short_prefix_maxima(self, head: Tensor, weight: Tensor, full: Tensor, short: int) -> Tensor:
        """Pre-bias maxima (B, C, short) over the windows of prefixes t = 1..short, each zero-padded to max_width,
        of the filter `weight` (C, E, w); `head` (B, E, max_width) is the start of the sequence, `full` the running
        maxima of its full windows (B, C, P)."""
        channels, _, w = weight.shape
        starts = self.max_width - w + 1  # windows of a padded prefix: s = 0..max_width - w
        products = torch.einsum("cek,bep->bkcp", weight, head)  # (B, w, C, max_width): offset k at position p
        t = torch.arange(1, short + 1, device=head.device)  # (short,)
        # windows wholly in the padding (s >= t) output 0 before the bias; full windows (s <= t - w) the running max
        best = torch.where(t <= starts - 1, 0.0, float("-inf")).to(head.dtype).expand(head.size(0), channels, short)
        if w <= short:
            best = torch.cat([best[:, :, :w - 1], torch.maximum(best[:, :, w - 1:], full[:, :, :short - w + 1])], 2)
        partial = head.new_zeros(head.size(0), channels, starts)  # (B, C, S): first m offsets of window s
        for m in range(1, w):  # window s = t - m keeps offsets 0..m-1 (positions s..t-1)
            partial = partial + products[:, m - 1, :, m - 1:m - 1 + starts]
            last = min(short, starts - 1 + m)  # t = m..last
            if last >= m:
                shifted = F.pad(partial[:, :, :last - m + 1], (m - 1, short - last), value=float("-inf"))
                best = torch.maximum(best, shifted)  # (B, C, short)
        return best

    def prefix_logits(self, tokens: Tensor, labels: Tensor | None = None) -> Tensor:
        """Logits (B, T) of every prefix of token ids (B, T) (tokens front end; class ids `labels` (B,) for a
        conditional CNN), 0 after each sequence's end (from its first PAD on)."""
        if self.input_mode != "tokens":
            raise ValueError(f"prefix_logits reads token ids (input_mode='tokens'), not {self.input_mode!r}")
        logits = self.prefix_logits_embedded(self.embed(tokens), labels)  # (B, T)
        return logits.masked_fill(tokens == self.pad_id, 0.0)
