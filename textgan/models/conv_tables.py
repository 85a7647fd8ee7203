"""Score token ids with a frozen CNN discriminator by table lookups instead of convolutions.

For the token front-end, a width-w convolution over embeddings is a sum of w table rows:
    conv(x)[c, s] = bias[c] + sum_k sum_e W[c, e, k] * E[y_{s+k}, e] = bias[c] + sum_k T_k[y_{s+k}, c],
with T_k = E @ W[:, :, k].T (V x C), one table per offset k. Building the tables costs as much as convolving
~V / T sequences; scoring then does w row additions per position and channel instead of w * E multiply-adds,
fused by `F.embedding_bag(mode="sum")`. Monte-Carlo rollouts score ~20,000 sequences per generator step with
one fixed D, so the tables pay back many times (measured in `docs/benchmarks.md`). After pooling, scoring goes
through the discriminator's own `head_logits`, so any change to the head reaches rollout rewards, class-conditional
terms included (a rollout row is scored with the label of the sequence it completes).

Valid only while D's weights do not change and in eval mode (no dropout): build one per scoring pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from textgan.models.discriminator import CNNDiscriminator


def table_bytes(d: CNNDiscriminator) -> int:
    """Memory the tables of `d` take: (V + 1) * sum over widths of w * filters (fp32)."""
    return 4 * (d.vocab_size + 1) * sum(w * n for w, n in zip(d.filter_sizes, d.num_filters))


class TokenConvTables:
    """A no-grad, eval-mode scorer equal (to float round-off) to `d(tokens, labels)` for `input_mode="tokens"`."""

    def __init__(self, d: CNNDiscriminator) -> None:
        if d.input_mode != "tokens":
            raise ValueError(f"conv tables need input_mode='tokens', got {d.input_mode!r}")
        if d.training:
            raise ValueError("conv tables score in eval mode: call d.eval() first (dropout would be skipped)")
        self.d = d
        self.rows = d.vocab_size + 1  # per offset: one row per id, then a zero row for right padding
        with torch.no_grad():
            embedding = d.embedding.weight  # (V, E)
            self.tables = [self._table(embedding, conv.weight) for conv in d.convs]  # (w * (V + 1), C_w) each

    def _table(self, embedding: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        channels, size, width = weight.shape  # (C, E, w)
        products = embedding @ weight.permute(1, 2, 0).reshape(size, width * channels)  # (V, w * C)
        table = products.new_zeros(width, self.rows, channels)
        table[:, :-1] = products.view(-1, width, channels).transpose(0, 1)  # table[k, v] = T_k[v]
        return table.view(width * self.rows, channels)

    @torch.no_grad()
    def __call__(self, tokens: torch.Tensor, labels: torch.Tensor | None = None,
                 chunk_size: int = 1024) -> torch.Tensor:
        """Logits (R,) of token ids (R, T) (class ids `labels` (R,) for a conditional D), in chunks of
        `chunk_size` rows."""
        parts = tokens.split(chunk_size)
        label_parts = [None] * len(parts) if labels is None else labels.split(chunk_size)
        return torch.cat([self._head(self._pooled(part), part_labels) for part, part_labels in zip(parts, label_parts)])

    @torch.no_grad()
    def rollout_scorer(self, sequences: torch.Tensor, labels: torch.Tensor | None = None) -> RolloutScorer:
        """A scorer of completions of prefixes of `sequences` (B, T) (of classes `labels` (B,) for a conditional
        D) that reuses the windows inside each prefix."""
        return RolloutScorer(self, self._padded(sequences), labels)

    # ---- pieces ------------------------------------------------------------------------------------------
    def _padded(self, tokens: torch.Tensor) -> torch.Tensor:
        """Right padding with the zero row up to the widest filter, as forward pads embeddings with zeros."""
        short = self.d.max_width - tokens.size(1)
        return F.pad(tokens, (0, short), value=self.rows - 1) if short > 0 else tokens

    def _windows(self, tokens: torch.Tensor, index: int, widths: torch.Tensor | None = None,
                 first: int = 0) -> torch.Tensor:
        """Pre-bias outputs (R, P, C) of filter `index` at every window of padded tokens (R, T'), P = T' - w + 1;
        windows past a row's width (R,) (see `CNNDiscriminator.forward_tokens`) are -inf, window p of `tokens`
        being window first + p of the row."""
        table = self.tables[index]
        width = self.d.filter_sizes[index]
        offsets = torch.arange(width, device=tokens.device) * self.rows  # (w,)
        windows = tokens.unfold(1, width, 1) + offsets  # (R, P, w)
        summed = F.embedding_bag(windows.reshape(-1, width), table, mode="sum")  # (R * P, C)
        summed = summed.view(tokens.size(0), -1, table.size(1))
        if widths is None:
            return summed
        past = torch.arange(first, first + summed.size(1), device=tokens.device) > (widths - width).unsqueeze(1)
        return summed.masked_fill(past.unsqueeze(2), float("-inf"))  # (R, P, C)

    def _widths(self, tokens: torch.Tensor) -> torch.Tensor:
        """The width (R,) each row of tokens (R, T) is scored at: its length, at least the widest filter."""
        return self.d.token_lengths(tokens).clamp(min=self.d.max_width)

    def _pooled(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """Max-over-time outputs (R, C_w) of every filter (pre-bias) for tokens (R, T)."""
        widths = self._widths(tokens)
        tokens = self._padded(tokens)
        return [self._windows(tokens, i, widths).amax(1) for i in range(len(self.tables))]

    def _head(self, pooled: list[torch.Tensor], labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (R,) from per-filter maxima (pre-bias): add the biases, then the discriminator's own head (with
        class ids `labels` (R,) for a conditional D)."""
        return self.d.head_logits(torch.cat([p + conv.bias for p, conv in zip(pooled, self.d.convs)], dim=1), labels)


class RolloutScorer:
    """Logits of rollout completions: row r keeps the prefix y_{b_r, 1..t_r} of sequence b_r and samples the rest.

    A window of width w starting at s < t_r - w + 1 lies inside the prefix, so its output is the one computed for
    y_{b_r} itself: its maximum over those windows is a running maximum of y_{b_r}'s windows, computed once. Only
    the windows that reach into the sampled part are computed per row (about 2/3 of the work for SeqGAN's filters
    at T = 20). Equal to scoring the completions from scratch, to float round-off.
    """

    def __init__(self, tables: TokenConvTables, sequences: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        self.tables, self.labels = tables, labels  # labels (B,): a completion keeps its sequence's class
        windows = [tables._windows(sequences, i) for i in range(len(tables.tables))]  # (B, P_w, C_w) each
        self.running_max = [w.cummax(1).values for w in windows]  # [b, j] = max over windows s <= j
        last = [tables._widths(sequences) - width for width in tables.d.filter_sizes]  # each row's last window
        rows = torch.arange(sequences.size(0), device=sequences.device)
        self.sequence_logits = tables._head([m[rows, j] for m, j in zip(self.running_max, last)], labels)  # (B,)

    @torch.no_grad()
    def __call__(self, completions: torch.Tensor, rows_b: torch.Tensor, rows_t: torch.Tensor) -> torch.Tensor:
        """Logits (R,) of completions (R, T) whose rows are sorted by prefix length rows_t (R,)."""
        tables = self.tables
        widths = tables._widths(completions)  # (R,)
        completions = tables._padded(completions)
        lengths, counts = torch.unique_consecutive(rows_t, return_counts=True)
        logits = []
        for t, rows, b, w in zip(lengths.tolist(), completions.split(counts.tolist()), rows_b.split(counts.tolist()),
                                 widths.split(counts.tolist())):
            pooled = []
            for i, width in enumerate(tables.d.filter_sizes):
                start = max(0, t - width + 1)  # the first window that reaches position t (0-based) or later
                new = tables._windows(rows[:, start:], i, w, start).amax(1)  # (G, C)
                if start > 0:  # windows 0..start-1 lie inside the prefix (those up to the row's last count)
                    new = torch.maximum(new, self.running_max[i][b, (w - width).clamp(max=start - 1)])
                pooled.append(new)
            labels = None if self.labels is None else self.labels[b]  # (G,) the class of each row's sequence
            logits.append(tables._head(pooled, labels))  # per prefix length: ~B * N rows, a cache-sized head GEMM
        return torch.cat(logits)
