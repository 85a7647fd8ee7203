"""The K-mode synthetic benchmark: K known modes, real data uniform over them, an exact parser for samples.

Mode k is a marker token m_k followed by one of its `templates` templates; a template is seq_len - 1 slots, each
slot a set of `slot_choices` content tokens. A sentence of mode k is m_k then one token of each slot of one of
mode k's templates, so every mode holds templates * slot_choices ** (seq_len - 1) sentences (fewer if templates
overlap) and the marker makes a sentence belong to at most one mode. Markers are content ids 0..K-1 and never
fill a slot; slots draw from ids K..vocab_size-1. Fixed length (no EOS), as the oracle: a mode is a matter of
content, and the generator's fixed-length path (EOS banned) makes every sample parseable without length noise.
Everything is a function of `seed` (Metz et al. 2016 use a mixture of Gaussians for the same purpose; this is its
discrete analogue for sequence models).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

INVALID = -1  # the mode label of a sentence that belongs to no mode


@dataclass(frozen=True)
class KModeSpec:
    """The sizes of a K-mode benchmark (content ids, before the tokenizer's special-id offset)."""

    num_modes: int
    vocab_size: int
    seq_len: int
    templates: int
    slot_choices: int
    seed: int


class KModeData:
    """The modes of `spec`: sampling real sentences and labelling any sentence with its mode (or INVALID)."""

    def __init__(self, spec: KModeSpec) -> None:
        k, v, t, c = spec.num_modes, spec.vocab_size, spec.templates, spec.slot_choices
        if spec.num_modes < 1 or spec.templates < 1 or spec.slot_choices < 1 or spec.seq_len < 2:
            raise ValueError(f"K-mode sizes must be positive and seq_len >= 2, got {spec}")
        if v - k < c:
            raise ValueError(f"vocab_size={v} leaves {v - k} slot tokens after {k} markers; need >= slot_choices={c}")
        self.spec = spec
        g = torch.Generator().manual_seed(spec.seed)
        slots = spec.seq_len - 1
        # (K, templates, slots, slot_choices): each slot a set of distinct non-marker ids
        self.slots = torch.stack([torch.randperm(v - k, generator=g)[:c] + k for _ in range(k * t * slots)])
        self.slots = self.slots.view(k, t, slots, c)
        # membership[k, j, s, id]: id may fill slot s of template j of mode k
        self.membership = torch.zeros(k, t, slots, v, dtype=torch.bool)
        self.membership.scatter_(3, self.slots, True)

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n real sentences (n, seq_len) of content ids and their modes (n,), uniform over modes and templates."""
        g = torch.Generator().manual_seed(seed)
        s = self.spec
        modes = torch.randint(s.num_modes, (n,), generator=g)  # (n,)
        templates = torch.randint(s.templates, (n,), generator=g)  # (n,)
        picks = torch.randint(s.slot_choices, (n, s.seq_len - 1, 1), generator=g)  # (n, slots, 1)
        body = self.slots[modes, templates].gather(2, picks).squeeze(2)  # (n, slots)
        return torch.cat([modes.unsqueeze(1), body], dim=1), modes

    def label(self, sentences: torch.Tensor) -> torch.Tensor:
        """The mode (n,) of each content-id sentence (n, L), INVALID when it matches no template of its marker
        (a wrong length, a non-marker first token or any slot out of every template of that mode)."""
        s = self.spec
        n = sentences.size(0)
        if sentences.dim() != 2 or sentences.size(1) != s.seq_len:
            return torch.full((n,), INVALID, dtype=torch.long)
        marker = sentences[:, 0]
        body = sentences[:, 1:]  # (n, slots)
        ok_ids = (marker >= 0) & (marker < s.num_modes) & ((body >= 0) & (body < s.vocab_size)).all(1)
        mode = marker.clamp(0, s.num_modes - 1)
        safe = body.clamp(0, s.vocab_size - 1)
        member = self.membership[mode]  # (n, templates, slots, V)
        index = safe.unsqueeze(1).expand(-1, s.templates, -1).unsqueeze(-1)  # (n, templates, slots, 1)
        fits = member.gather(3, index).squeeze(-1).all(-1).any(-1)  # (n,) some template accepts every slot
        return torch.where(ok_ids & fits, mode, torch.full_like(mode, INVALID))
