"""CNN sequence discriminator (Kim 2014 "Convolutional Neural Networks for Sentence
Classification"; as used by SeqGAN, Yu et al. 2017).

One module, three front-ends chosen by the caller:

* ``"tokens"``        -- ids ``(B, T)`` -> embedding lookup (PAD row fixed at zero);
* ``"distributions"`` -- ``(B, T, V)`` soft one-hots / probabilities times the embedding
  matrix, differentiable w.r.t. the distributions (Gumbel-softmax estimators);
* ``"features"``      -- any ``(B, T, F)`` feature sequence used as is (e.g. generator hidden
  states for professor forcing).

``embed`` and ``forward_embedded`` are split so a WGAN-GP penalty (Gulrajani et al. 2017) can
interpolate between real and fake sequences in embedding space.

Speed notes (CPU, 2 threads, SEQGAN_PRESET, 19,456 x T=20, measured while writing this):
the conv stack is compute bound (~15 MFLOP per sequence, ~295 GFLOP in total, against
~130 GFLOPS fp32 matmul peak on this machine). One ``Conv1d`` per width on a contiguous
``(B, E, T)`` tensor ran at ~2.6 s when fed in chunks of 512-1024 sequences (``score``) and
~3-6 s as a single 19k batch (cache misses on the large activations). A Conv2d over a
channels-last ``(B, 1, T, E)`` tensor was within noise of that (~2.4-2.7 s); a single conv
zero-padded to the widest filter (20) was ~7x slower (it does ~3x the FLOPs at every
position); an unfold + matmul formulation was ~2x slower. Running ``score`` under
``torch.autocast("cpu", dtype=torch.bfloat16)`` gave ~1.7 s on a bf16-capable CPU at ~1-2%
relative error in the logits -- a caller's choice, not done here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

InputMode = Literal["tokens", "distributions", "features"]
INPUT_MODES: tuple[str, ...] = ("tokens", "distributions", "features")

# SeqGAN's published discriminator (Yu et al. 2017, appendix / reference code):
# window sizes 1..10, 15, 20 with 100/200/.../160 feature maps, embedding 64,
# dropout keep-probability 0.75 and L2 weight 0.2 on the output layer only.
# ``l2_reg`` is not a constructor argument: it is the weight decay the trainer puts on
# ``head_parameters()`` (see ``CNNDiscriminator.head_parameters``).
SEQGAN_PRESET: dict[str, Any] = {
    "filter_sizes": (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20),
    "num_filters": (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160),
    "embedding_size": 64,
    "dropout": 0.25,
    "highway": True,
    "l2_reg": 0.2,
}

# A smaller discriminator for real data / fast CPU runs (~15x fewer conv FLOPs than SeqGAN's).
SMALL_PRESET: dict[str, Any] = {
    "filter_sizes": (2, 3, 4, 5),
    "num_filters": (64, 64, 64, 64),
    "embedding_size": 64,
    "dropout": 0.25,
    "highway": True,
    "l2_reg": 0.0,
}

# Keys of a preset that are not constructor arguments.
_PRESET_EXTRA_KEYS = ("l2_reg",)


class Highway(nn.Module):
    """One highway layer (Srivastava et al. 2015): y = t * relu(W_H x) + (1 - t) * x, t = sigmoid(W_T x)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        # W_H and W_T fused into one matmul; the first half is H, the second T.
        self.proj = nn.Linear(size, 2 * size)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the gated transform to ``x`` of shape (B, D); returns (B, D)."""
        h, t = self.proj(x).chunk(2, dim=-1)  # (B, D), (B, D)
        t = torch.sigmoid(t)
        return t * F.relu(h) + (1.0 - t) * x


class CNNDiscriminator(nn.Module):
    """Kim-2014 CNN over a sequence, one logit per sequence ("real" = positive).

    Per filter width w: Conv1d over time with ``num_filters[i]`` channels, ReLU, max-over-time
    pooling; the pooled features are concatenated, passed through an optional highway layer,
    dropout, and a linear head to one logit. Sequences shorter than the widest filter are
    zero-padded on the right (after embedding) up to ``max(filter_sizes)``; for the token
    front-end this is identical to padding with PAD tokens, whose embedding is zero.
    """

    def __init__(
        self,
        *,
        input_mode: InputMode,
        vocab_size: int = 0,
        embedding_size: int = 64,
        feature_size: int = 0,
        filter_sizes: Sequence[int],
        num_filters: Sequence[int],
        dropout: float = 0.25,
        highway: bool = True,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        if input_mode not in INPUT_MODES:
            raise ValueError(f"input_mode must be one of {INPUT_MODES}, got {input_mode!r}")
        filter_sizes = tuple(int(w) for w in filter_sizes)
        num_filters = tuple(int(n) for n in num_filters)
        if len(filter_sizes) == 0:
            raise ValueError("filter_sizes is empty; give at least one filter width")
        if len(filter_sizes) != len(num_filters):
            raise ValueError(
                f"filter_sizes has {len(filter_sizes)} entries but num_filters has "
                f"{len(num_filters)}; give one filter count per width"
            )
        if any(w <= 0 for w in filter_sizes):
            raise ValueError(f"filter_sizes must all be positive, got {list(filter_sizes)}")
        if any(n <= 0 for n in num_filters):
            raise ValueError(f"num_filters must all be positive, got {list(num_filters)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")

        self.input_mode: InputMode = input_mode
        self.filter_sizes = filter_sizes
        self.num_filters = num_filters
        self.max_width = max(filter_sizes)
        self.pad_id = pad_id
        self.embedding: nn.Embedding | None
        if input_mode in ("tokens", "distributions"):
            if vocab_size <= 0:
                raise ValueError(f"vocab_size must be > 0 for input_mode={input_mode!r}, got {vocab_size}")
            if embedding_size <= 0:
                raise ValueError(f"embedding_size must be > 0, got {embedding_size}")
            if not 0 <= pad_id < vocab_size:
                raise ValueError(f"pad_id must be in [0, vocab_size={vocab_size}), got {pad_id}")
            self.vocab_size = vocab_size
            self.embedding_size = embedding_size
            self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=pad_id)
        else:
            if feature_size <= 0:
                raise ValueError(f"feature_size must be > 0 for input_mode='features', got {feature_size}")
            self.vocab_size = 0
            self.embedding_size = feature_size  # width of what forward_embedded consumes
            self.embedding = None
        self.feature_size = feature_size

        e = self.embedding_size
        self.convs = nn.ModuleList(nn.Conv1d(e, n, w) for w, n in zip(filter_sizes, num_filters))
        pooled = sum(num_filters)
        self.highway: Highway | None = Highway(pooled) if highway else None
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(pooled, 1)

    @classmethod
    def from_preset(
        cls,
        preset: Mapping[str, Any],
        *,
        input_mode: InputMode,
        vocab_size: int = 0,
        feature_size: int = 0,
        pad_id: int = 0,
        **overrides: Any,
    ) -> CNNDiscriminator:
        """Build from ``SEQGAN_PRESET``/``SMALL_PRESET`` (``l2_reg`` is ignored: it is the trainer's head weight decay)."""
        kwargs = {k: v for k, v in preset.items() if k not in _PRESET_EXTRA_KEYS}
        kwargs.update(overrides)
        return cls(input_mode=input_mode, vocab_size=vocab_size, feature_size=feature_size, pad_id=pad_id, **kwargs)

    # ------------------------------------------------------------------ front-end
    def embed(self, x: Tensor) -> Tensor:
        """Map the input to a (B, T, E) sequence: embedding lookup, soft embedding, or identity for features."""
        if self.input_mode == "tokens":
            if x.dim() != 2 or x.dtype != torch.long:
                raise ValueError(
                    f"input_mode='tokens' expects a LongTensor (B, T), got {x.dtype} of shape {tuple(x.shape)}"
                )
            assert self.embedding is not None
            return self.embedding(x)  # (B, T, E)
        if self.input_mode == "distributions":
            if x.dim() != 3 or x.shape[-1] != self.vocab_size or not x.is_floating_point():
                raise ValueError(
                    f"input_mode='distributions' expects a float tensor (B, T, {self.vocab_size}), "
                    f"got {x.dtype} of shape {tuple(x.shape)}"
                )
            assert self.embedding is not None
            # Zero the PAD row in the product as nn.Embedding(padding_idx=...) does for lookups,
            # so PAD mass contributes nothing and the PAD row gets no gradient on this path.
            weight = self.embedding.weight.index_fill(0, torch.tensor([self.pad_id], device=x.device), 0.0)
            return x.to(weight.dtype) @ weight  # (B, T, V) @ (V, E) -> (B, T, E)
        if x.dim() != 3 or x.shape[-1] != self.feature_size:
            raise ValueError(
                f"input_mode='features' expects a float tensor (B, T, {self.feature_size}), got shape {tuple(x.shape)}"
            )
        return x  # (B, T, F)

    # ------------------------------------------------------------------ body + head
    def forward_embedded(self, e: Tensor) -> Tensor:
        """Score an embedded sequence e (B, T, E); returns (B,) logits."""
        if e.dim() != 3 or e.shape[-1] != self.embedding_size:
            raise ValueError(
                f"forward_embedded expects (B, T, {self.embedding_size}), got shape {tuple(e.shape)}"
            )
        x = e.transpose(1, 2).contiguous()  # (B, E, T): channels-first for Conv1d
        if x.shape[-1] < self.max_width:
            x = F.pad(x, (0, self.max_width - x.shape[-1]))  # (B, E, max_width)
        # ReLU and max-over-time commute (ReLU is monotone), so pool first and apply ReLU to
        # the (B, C) result instead of the (B, C, T) activation: same values, less work.
        pooled = torch.cat([conv(x).amax(dim=2) for conv in self.convs], dim=1)  # (B, sum(num_filters))
        h = F.relu(pooled)
        if self.highway is not None:
            h = self.highway(h)  # (B, sum(num_filters))
        h = self.dropout(h)
        return self.head(h).squeeze(-1)  # (B,)

    def forward(self, x: Tensor) -> Tensor:
        """Score raw input (see ``input_mode``); returns (B,) logits, real = positive."""
        return self.forward_embedded(self.embed(x))

    @torch.no_grad()
    def score(self, x: Tensor, *, chunk_size: int = 1024) -> Tensor:
        """No-grad ``forward`` over a large batch in chunks (faster on CPU); returns (B,) logits.

        Does not change train/eval mode: call ``eval()`` first for deterministic rewards.
        """
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be > 0, got {chunk_size}")
        if x.shape[0] <= chunk_size:
            return self.forward(x)
        return torch.cat([self.forward(c) for c in x.split(chunk_size)])  # (B,)

    # ------------------------------------------------------------------ parameter groups
    def head_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the output layer (weight and bias).

        SeqGAN regularises only this layer: loss += l2_reg * (tf.nn.l2_loss(W) + tf.nn.l2_loss(b)),
        where tf.nn.l2_loss(W) = ||W||^2 / 2. ``torch.optim.Adam(weight_decay=l2_reg)`` on this
        group adds l2_reg * W to the gradient, which is exactly the gradient of that term
        (coupled L2, not AdamW's decoupled decay), e.g.
        ``Adam([{"params": d.body_parameters()}, {"params": d.head_parameters(), "weight_decay": 0.2}])``.
        """
        return self.head.parameters()

    def body_parameters(self) -> Iterator[nn.Parameter]:
        """All parameters except the output layer's (embedding, convolutions, highway)."""
        head_ids = {id(p) for p in self.head.parameters()}
        return (p for p in self.parameters() if id(p) not in head_ids)
