"""CNN sequence discriminator (Kim 2014 "Convolutional Neural Networks for Sentence
Classification"; as used by SeqGAN, Yu et al. 2017).

One module, three front-ends chosen by the caller:

* ``"tokens"``        -- ids ``(B, T)`` -> embedding lookup (PAD row fixed at zero);
* ``"distributions"`` -- ``(B, T, V)`` soft one-hots / probabilities times the embedding
  matrix, differentiable w.r.t. the distributions (Gumbel-softmax estimators);
* ``"features"``      -- any ``(B, T, F)`` feature sequence used as is (e.g. generator hidden
  states for professor forcing).

``embed`` and ``forward_embedded`` are split so a WGAN-GP penalty (Gulrajani et al. 2017) can
interpolate between real and fake sequences in embedding space; ``head_logits`` is the part after pooling, so
the conv-table rollout scorer (``models/conv_tables.py``) shares it. Speed notes: ``docs/benchmarks.md``.

Token ids are scored as if each sequence were alone: y_1..y_L (up to its last non-PAD id) zero-padded only up to
the widest filter, so a batch's trailing PAD never enters a max-over-time and the score does not depend on what
the sequence is batched with. ``forward`` sorts rows by length and convolves groups of similar length, each
trimmed to its longest row; in a group shorter than the widest filter, the windows that start past its longest row
cover zero vectors alone, so their output is the bias and they are not convolved. Little work is spent on padding
(``scripts/bench_discriminator.py``). With ``winning_window_grad``, the convolutions in training run as compiled
kernels (``models/pooled_conv.py``): the forward fused with the max-pool, the backward reading only the window that won
each row's and channel's maximum; they convolve each row's own windows (those that start on a token; a bias column
stands in for the rest), so the rows need no grouping. With ``fused_highway_step``, the highway's weight gradient
can be left to the optimizer step as two thin factors (``models/deferred_linear.py``).

Options against mode collapse: spectral normalisation of the conv, highway and output layers (Miyato et al. 2018,
torch's parametrization: one power iteration per training-mode forward), and minibatch discrimination (Salimans
et al. 2016, sec. 3.2) on the pooled features against a reference batch set by ``set_reference`` (fixed per
round by the training loop, drawn from the current generator), so a sequence's score depends only on it and the
reference set. The reference is a buffer: checkpointed with the state dict.

Class-conditional scoring, ``d(x, labels)`` with labels (B,) class ids 0..K-1 (``conditional``):

* ``"none"``       -- labels must be None; the modules and random draws of the unconditional CNN;
* ``"projection"`` -- Miyato & Koyama 2018 ("cGANs with Projection Discriminator", eq. 3): the logit
  psi(phi(x)) + <V_y, phi(x)> with phi(x) the head's input (pooled features after highway and dropout) and V a
  (K, F) class embedding; labels=None gives psi(phi(x)) alone;
* ``"classes"``    -- a (K+1)-way output layer, K real classes then fake (SentiGAN, Wang & Wan 2018; CatGAN,
  Liu et al. 2020), trained by cross-entropy over ``class_logits``. The logit ``d(x, labels)`` is
  log P(y | x) - log(1 - P(y | x)), so its sigmoid is P(class = y | x), the sequence's own class (REINFORCE's
  reward); with labels=None it is log P(real) - log P(fake).

The label term is added in ``head_logits``, so every path (grouped token forward, embedded and distribution front
ends, prefix mode, the conv-table scorer) conditions the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from textgan.models import highway_gate, kernels, pooled_conv
from textgan.models.armed_embedding import ArmedEmbedding
from textgan.models.deferred_linear import DeferredLinear
from textgan.models.dropout import Dropout
from textgan.models.length_groups import length_groups

InputMode = Literal["tokens", "distributions", "features"]
INPUT_MODES: tuple[str, ...] = get_args(InputMode)
Precision = Literal["fp32", "bf16"]
Conditional = Literal["none", "projection", "classes"]
CONDITIONALS: tuple[str, ...] = get_args(Conditional)


class Highway(nn.Module):
    """One highway layer (Srivastava et al. 2015): y = t * relu(W_H x) + (1 - t) * x, t = sigmoid(W_T x)."""

    def __init__(self, size: int, deferred: bool = False) -> None:
        super().__init__()
        # W_H and W_T fused into one matmul; the first half is H, the second T. `deferred`: its weight gradient
        # may be left as factors for the optimizer step (``models/deferred_linear.py``); the same layer otherwise.
        self.proj = DeferredLinear(size, 2 * size) if deferred else nn.Linear(size, 2 * size)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the gated transform to ``x`` of shape (B, D); returns (B, D)."""
        return highway_gate.gate(self.proj(x), x)  # proj: (B, 2D) = [h | t]


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
        precision: Precision = "fp32",
        spectral_norm: bool = False,
        minibatch_kernels: int = 0,
        minibatch_kernel_dims: int = 16,
        minibatch_reference: int = 64,
        conditional: Conditional = "none",
        num_classes: int = 0,
        winning_window_grad: bool = False,
        fused_highway_step: bool = False,
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
        if precision not in get_args(Precision):
            raise ValueError(f"precision must be one of {get_args(Precision)}, got {precision!r}")
        self.precision: Precision = precision
        if minibatch_kernels < 0 or minibatch_kernel_dims < 1:
            raise ValueError(f"minibatch_kernels must be >= 0 and minibatch_kernel_dims >= 1, got "
                             f"{minibatch_kernels}, {minibatch_kernel_dims}")
        if conditional not in CONDITIONALS:
            raise ValueError(f"conditional must be one of {CONDITIONALS}, got {conditional!r}")
        if (conditional == "none") != (num_classes == 0) or num_classes < 0:
            needed = "= 0" if conditional == "none" else ">= 1"
            raise ValueError(f"conditional={conditional!r} needs num_classes {needed}, got {num_classes}")
        if minibatch_kernels and input_mode == "features":
            raise ValueError("minibatch discrimination needs a token or distributions front end (its reference "
                             "batch is token ids); input_mode='features' has none")

        self.input_mode: InputMode = input_mode
        self.filter_sizes = filter_sizes
        self.num_filters = num_filters
        self.max_width = max(filter_sizes)

        def work(n: int) -> int:  # conv multiply-adds per channel of input of a row, windows starting before n
            return sum(c * w * min(n, self.max_width - w + 1) for w, c in zip(filter_sizes, num_filters))
        self._short_costs = [self.max_width * work(n) / work(self.max_width) for n in range(self.max_width)]
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
            self.embedding = ArmedEmbedding(vocab_size, embedding_size, padding_idx=pad_id)
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
        # Minibatch discrimination (Salimans et al. 2016): T maps pooled features f to C rows of width W.
        self.minibatch_kernels, self.minibatch_kernel_dims = minibatch_kernels, minibatch_kernel_dims
        self.minibatch_reference = minibatch_reference  # reference batch size the training loop draws
        self.minibatch: nn.Linear | None = (
            nn.Linear(pooled, minibatch_kernels * minibatch_kernel_dims, bias=False) if minibatch_kernels else None)
        self.reference: Tensor | None
        if minibatch_kernels:  # only then, so checkpoints of CNNs without the option keep their keys
            self.register_buffer("reference", torch.empty(0, 0, dtype=torch.long))  # (R, T) token ids
        else:
            self.reference = None
        width = pooled + minibatch_kernels
        self.highway: Highway | None = Highway(width, fused_highway_step) if highway else None
        self.dropout = Dropout(dropout)  # nn.Dropout with compiled masks on the CPU (``models/dropout.py``)
        self.conditional: Conditional = conditional
        self.num_classes = num_classes
        self.head = nn.Linear(width, num_classes + 1 if conditional == "classes" else 1)
        # created after every unconditional module, so those draw the same initial weights whatever `conditional`
        self.class_embedding: nn.Embedding | None = None
        if conditional == "projection":
            self.class_embedding = nn.Embedding(num_classes, width)  # V: (K, F)
            nn.init.xavier_uniform_(self.class_embedding.weight)  # Glorot, as Miyato & Koyama's code
        self.spectral_norm = spectral_norm
        self.winning_window_grad = winning_window_grad  # compiled convolutions in training (``_winning_window_grad``)
        self.fused_highway_step = fused_highway_step
        if spectral_norm:
            layers: list[nn.Module] = [*self.convs, self.head] + ([self.highway.proj] if self.highway else [])
            if self.class_embedding is not None:
                layers.append(self.class_embedding)
            for layer in layers:
                torch.nn.utils.parametrizations.spectral_norm(layer)

    # ------------------------------------------------------------------ front-end
    def embed(self, x: Tensor) -> Tensor:
        """Map the input to a (B, T, E) sequence: embedding lookup, soft embedding, or identity for features."""
        if self.input_mode == "tokens":
            self._check_tokens(x)
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

    def _check_tokens(self, x: Tensor) -> None:
        if x.dim() != 2 or x.dtype != torch.long:
            raise ValueError(
                f"input_mode='tokens' expects a LongTensor (B, T), got {x.dtype} of shape {tuple(x.shape)}"
            )

    def embed_tokens(self, tokens: Tensor) -> Tensor:
        """Token ids (B, T) embedded (B, T, E) as this front end reads them (one-hots for "distributions")."""
        if self.input_mode == "features":
            raise ValueError("input_mode='features' reads no token ids")
        if self.input_mode == "distributions":
            return self.embed(F.one_hot(tokens, self.vocab_size).to(self.head.bias.dtype))
        return self.embed(tokens)

    # ------------------------------------------------------------------ body + head
    def forward_embedded(self, e: Tensor, lengths: Tensor | None = None, labels: Tensor | None = None) -> Tensor:
        """Score an embedded sequence e (B, T, E); returns (B,) logits. With `lengths` (B,), the windows of row b
        past max(lengths[b], widest filter) are left out of its max-over-time (they cover only padding); `labels`
        (B,) class ids for a conditional CNN."""
        if e.dim() != 3 or e.shape[-1] != self.embedding_size:
            raise ValueError(
                f"forward_embedded expects (B, T, {self.embedding_size}), got shape {tuple(e.shape)}"
            )
        with self._autocast(e.device):
            return self.head_logits(self._pooled(e, lengths), labels)

    def _pooled(self, e: Tensor, lengths: Tensor | None, longest: int | None = None) -> Tensor:
        """Max-over-time conv outputs (B, sum(num_filters)) (bias added, before the ReLU) of e (B, T, E). `longest`:
        the longest row's length, given when every position past a row's length holds a zero vector (the
        embedding's PAD row)."""
        steps = max(e.shape[1], self.max_width)  # rows shorter than the widest filter are zero-padded to it
        widths = None if lengths is None else lengths.clamp(min=self.max_width)  # (B,) the width each row sees
        if widths is not None and bool((widths >= steps).all()):
            widths = None  # no row ends before the batch does: nothing to mask
        # A window starting at or past `longest` covers only zero vectors, so its conv output is exactly the bias:
        # such windows are not convolved, and one bias column after the convolved ones stands in for them in the
        # max (after them, so a tie picks the same window as before). Only without masks: every row then reads
        # every window, which is the case for a group of rows shorter than the widest filter.
        short = max(longest, 1) if longest is not None and widths is None else steps
        if self._winning_window_grad(e):  # the compiled forward and backward (``models/pooled_conv.py``)
            tokens = lengths if longest is not None else None  # each row's own windows: those starting on a token
            return pooled_conv.pooled(e, widths, tokens, self.filter_sizes, [conv.weight for conv in self.convs],
                                      [conv.bias for conv in self.convs])
        x = e.transpose(1, 2).contiguous()  # (B, E, T): channels-first for Conv1d
        if x.shape[-1] < steps:
            x = F.pad(x, (0, steps - x.shape[-1]))  # (B, E, max_width)
        pooled = []
        for conv, width in zip(self.convs, self.filter_sizes):
            # ReLU and max-over-time commute (ReLU is monotone), so pool first and apply ReLU to
            # the (B, C) result instead of the (B, C, T) activation: same values, less work. max (one index per
            # row and channel) rather than amax: a cheaper backward, the same gradient unless two windows tie.
            span = min(steps, short + width - 1)  # the input positions of windows starting before `short`
            out = conv(x[:, :, :span] if span < steps else x)  # (B, C, span - w + 1)
            if widths is not None:
                past = torch.arange(out.shape[-1], device=out.device) > (widths - width).unsqueeze(1)  # (B, P)
                out.masked_fill_(past.unsqueeze(1), float("-inf"))  # in place: the conv backward needs no output
            if span < steps:
                bias = conv.bias.to(out.dtype).view(1, -1, 1).expand(out.shape[0], -1, 1)  # (B, C, 1)
                out = torch.cat([out, bias], dim=2)
            pooled.append(out.max(dim=2).values)  # (B, C)
        return torch.cat(pooled, dim=1)  # (B, sum(num_filters))

    def _winning_window_grad(self, x: Tensor) -> bool:
        """Whether this forward's convolutions and max-pool run as the compiled kernels, with the backward from the
        winning windows alone (``models/pooled_conv.py``): when on, training, fp32 on the CPU, no spectral norm (its
        weight is recomputed per access), and the kernels built."""
        return (self.winning_window_grad and torch.is_grad_enabled() and x.device.type == "cpu"
                and x.dtype == torch.float32 and self.precision == "fp32" and not self.spectral_norm
                and (x.requires_grad or any(p.requires_grad for p in self.convs.parameters()))
                and kernels.available())

    def token_lengths(self, tokens: Tensor) -> Tensor:
        """Lengths (B,) of token rows (B, T): up to and including the last non-PAD id."""
        positions = torch.arange(1, tokens.shape[1] + 1, device=tokens.device)  # (T,)
        return ((tokens != self.pad_id) * positions).amax(dim=1)

    def forward_tokens(self, tokens: Tensor, labels: Tensor | None = None) -> Tensor:
        """Logits (B,) of token ids (B, T) (and class ids `labels` (B,) for a conditional CNN), each row scored as
        if alone (see the module docstring)."""
        with self._autocast(tokens.device):
            return self.head_logits(self._pooled_tokens(tokens), labels)

    def _pooled_tokens(self, tokens: Tensor) -> Tensor:
        """Pooled outputs (B, sum(num_filters)) of token ids (B, T): rows sorted by length, convolved in groups
        trimmed to their longest row, put back in order; by the compiled kernels, which convolve each row's own
        windows whatever its neighbours, all rows at once."""
        self._check_tokens(tokens)
        lengths = self.token_lengths(tokens)  # (B,)
        assert self.embedding is not None
        zero_pad = bool((self.embedding.weight[self.pad_id] == 0).all())  # padding_idx keeps it so; checked
        if zero_pad and self._winning_window_grad(self.embedding.weight):  # as the embedded rows would be
            # the compiled kernels convolve each row's own windows (those starting on a token): no groups needed
            with self._autocast(tokens.device):
                return self._pooled(self.embed(tokens), lengths, int(lengths.max()) if len(lengths) else 0)
        order = lengths.argsort(stable=True)
        sorted_lengths = lengths[order].tolist()
        sorted_widths = [max(n, self.max_width) for n in sorted_lengths]  # the width each row is scored at
        embedded = self.embed(tokens[order])  # (B, T, E) in length order: one lookup for every group
        costs = [self._conv_cost(n) for n in sorted_lengths] if zero_pad else sorted_widths
        with self._autocast(tokens.device):
            pooled = torch.cat([self._pooled(embedded[start:stop, :sorted_widths[stop - 1]], lengths[order[start:stop]],
                                             sorted_lengths[stop - 1] if zero_pad else None)
                                for start, stop in length_groups(costs)])  # (B, F) in length order
            return pooled[order.argsort()]

    def _conv_cost(self, length: int) -> float:
        """The convolutions' work on a row of `length`, in widths: its own width from the widest filter up; below
        it, only the windows that start on a token are convolved (``_pooled``'s `longest`), so the work of those,
        scaled to the widest filter's width."""
        return float(length) if length >= self.max_width else self._short_costs[length]

    def _autocast(self, device: torch.device) -> torch.autocast:
        """bf16 autocast for precision="bf16" (CPU or CUDA), a no-op context for fp32."""
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def head_logits(self, pooled: Tensor, labels: Tensor | None = None) -> Tensor:
        """Logits (B,) of max-pooled convolution outputs (B, sum(num_filters)) (bias added, before the ReLU):
        ReLU, minibatch features (when on), highway, dropout, output layer, and the class term of `labels` (B,)
        (see the module docstring). Every scorer of this discriminator ends here; pooled (B, T, F) (prefix mode)
        gives (B, T), each row's label applying to all its prefixes."""
        with self._autocast(pooled.device):
            h = self._head_input(pooled)  # (B, F)
            if self.conditional == "none":
                if labels is not None:
                    raise ValueError("this CNN is unconditional (conditional='none'); score it without labels")
                return self.head(h).squeeze(-1).float()  # (B,)
            out = self.head(h)  # (B, 1) projection, (B, K+1) classes
            if labels is not None:
                labels = self._broadcast_labels(labels, h.shape[:-1])  # (B,) or (B, T)
            if self.conditional == "projection":
                logits = out.squeeze(-1)
                if labels is None:
                    return logits.float()
                assert self.class_embedding is not None
                return (logits + (self.class_embedding(labels) * h).sum(-1)).float()  # Miyato & Koyama eq. 3
            out = out.float()
            if labels is None:  # log P(real) - log P(fake) = logsumexp of the K real logits - the fake logit
                return out[..., :-1].logsumexp(-1) - out[..., -1]
            own = labels.unsqueeze(-1)
            return out.gather(-1, own).squeeze(-1) - out.scatter(-1, own, float("-inf")).logsumexp(-1)

    def _head_input(self, pooled: Tensor) -> Tensor:
        """What the output layer reads (B, F): ReLU of the pooled outputs, minibatch features, highway, dropout."""
        h = F.relu(pooled)
        if self.minibatch is not None:
            h = torch.cat([h, self.minibatch_features(h)], dim=-1)  # (B, sum(num_filters) + C)
        if self.highway is not None:
            h = self.highway(h)  # (B, sum(num_filters))
        return self.dropout(h)

    def _broadcast_labels(self, labels: Tensor, shape: torch.Size) -> Tensor:
        """Class ids (B,) checked (long, 0..K-1) and expanded to `shape` (B,) or (B, T)."""
        if labels.dtype != torch.long or labels.dim() != 1 or labels.shape[0] != shape[0]:
            raise ValueError(f"labels must be a LongTensor ({shape[0]},), got {labels.dtype} of shape "
                             f"{tuple(labels.shape)}")
        if labels.numel() and not (0 <= int(labels.min()) and int(labels.max()) < self.num_classes):
            raise ValueError(f"labels must be class ids in [0, {self.num_classes}), got {labels.min()}..{labels.max()}")
        return labels.view(-1, *[1] * (len(shape) - 1)).expand(shape)

    def class_logits(self, x: Tensor) -> Tensor:
        """Logits (B, K+1) of the (K+1)-class head for raw input x (K real classes, then fake): what its
        cross-entropy loss reads."""
        if self.conditional != "classes":
            raise ValueError(f"class_logits needs conditional='classes', this CNN has {self.conditional!r}")
        with self._autocast(x.device):
            if self.input_mode == "tokens":
                pooled = self._pooled_tokens(x)
            else:
                pooled = self._pooled(self.embed(x), None)
            return self.head(self._head_input(pooled)).float()

    # ------------------------------------------------------------------ minibatch discrimination
    def set_reference(self, tokens: Tensor) -> None:
        """Fix the reference batch (R, T) of token ids that minibatch features compare against."""
        if self.minibatch is None:
            raise ValueError("set_reference is for minibatch discrimination; this CNN has minibatch_kernels=0")
        self.reference = tokens.detach().to(device=self.head.bias.device, dtype=torch.long).clone()

    def _reference_features(self) -> Tensor:
        """ReLU'd pooled features (R, sum(num_filters)) of the reference batch through the current weights."""
        if self.reference is None or self.reference.numel() == 0:
            raise RuntimeError("minibatch discrimination has no reference batch: call set_reference(tokens) first")
        lengths = self.token_lengths(self.reference) if self.input_mode == "tokens" else None  # rows as if alone
        return F.relu(self._pooled(self.embed_tokens(self.reference), lengths))

    def minibatch_features(self, h: Tensor) -> Tensor:
        """o(x_i)_c = sum_r exp(-||M_i,c - M_r,c||_1) over the reference batch (Salimans et al. 2016 eq. in sec.
        3.2), M = h T viewed (B, C, W); (B, C) for features h (B, sum(num_filters))."""
        assert self.minibatch is not None
        c, w = self.minibatch_kernels, self.minibatch_kernel_dims
        m = self.minibatch(h).view(*h.shape[:-1], c, w)  # (B, C, W); (B, T, C, W) in prefix mode
        m_ref = self.minibatch(self._reference_features()).view(-1, c, w)  # (R, C, W)
        # broadcast, not torch.cdist: an unrolled D and R1 differentiate twice, which cdist's backward cannot
        distance = (m.unsqueeze(-3) - m_ref).abs().sum(-1)  # (B, R, C)
        return torch.exp(-distance).sum(-2)  # (B, C)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object, **kwargs: object) -> None:
        # the reference batch's shape is known only from the checkpoint: adopt it before copying
        key = prefix + "reference"
        if key in state_dict and self.reference is not None:
            self.reference = torch.empty_like(state_dict[key], device=self.reference.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)  # type: ignore[arg-type]

    def features(self, x: Tensor) -> Tensor:
        """Sentence features (B, F) of raw input: the max-pooled convolutions after ReLU (with the minibatch
        features when on) and the highway layer, before dropout and the output layer (what feature matching
        compares; TextGAN's f)."""
        lengths = self.token_lengths(x) if self.input_mode == "tokens" else None  # token rows as if alone
        h = F.relu(self._pooled(self.embed(x), lengths))  # (B, sum(num_filters)), the windows forward reads
        if self.minibatch is not None:
            h = torch.cat([h, self.minibatch_features(h)], dim=1)  # (B, sum(num_filters) + C)
        return self.highway(h) if self.highway is not None else h

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Score raw input (see ``input_mode``) and, for a conditional CNN, class ids `labels` (B,); returns (B,)
        logits, real = positive."""
        if self.input_mode == "tokens":
            return self.forward_tokens(x, labels)
        return self.forward_embedded(self.embed(x), labels=labels)

    # ------------------------------------------------------------------ parameter groups
    def head_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the output layer (weight and bias).

        SeqGAN regularises only this layer: loss += l2_reg * (tf.nn.l2_loss(W) + tf.nn.l2_loss(b)),
        where tf.nn.l2_loss(W) = ||W||^2 / 2. ``torch.optim.Adam(weight_decay=l2_reg)`` on this
        group adds l2_reg * W to the gradient, which is exactly the gradient of that term
        (coupled L2, not AdamW's decoupled decay). A projection CNN's class embedding is part of its output layer.
        """
        yield from self.head.parameters()
        if self.class_embedding is not None:
            yield from self.class_embedding.parameters()
