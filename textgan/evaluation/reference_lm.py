"""The reference LM of a data set, trained once and cached as a plain state dict keyed by what determines it.

The key is a sha256 of: the training file's sha256, the encoded training tensors (so a different tokenizer or
max_len is a different LM), the vocabulary size, banned ids, EOS id, the recipe and the seed. The file holds only
tensors, numbers and strings and is read back with `torch.load(weights_only=True)`: no pickled code.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from textgan.data.batching import TokenData
from textgan.evaluation.language_model import REFERENCE_LM_RECIPE, LMRecipe, build_lm, train_lm
from textgan.models.generator import RNNGenerator

__all__ = ["file_sha256", "reference_lm_key", "reference_lm"]

CPU = torch.device("cpu")
FORMAT = "textgan-reference-lm-1"  # bump when the stored layout changes: old files then miss and are retrained


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def reference_lm_key(train_file_sha256: str, train: TokenData, vocab_size: int, banned_ids: Sequence[int],
                     eos_id: int | None, recipe: LMRecipe, seed: int) -> str:
    """Hex sha256 naming the cached LM: equal inputs give the same key, any change a new one."""
    digest = hashlib.sha256()
    header = {"format": FORMAT, "train_file_sha256": train_file_sha256, "vocab_size": vocab_size,
              "banned_ids": sorted(int(i) for i in banned_ids), "eos_id": eos_id, "recipe": recipe.as_dict(),
              "seed": seed}
    digest.update(json.dumps(header, sort_keys=True).encode())
    digest.update(train.tokens.to(torch.int64).contiguous().numpy().tobytes())
    digest.update(train.lengths.to(torch.int64).contiguous().numpy().tobytes())
    return digest.hexdigest()


def reference_lm(cache_dir: Path, train_file_sha256: str, train: TokenData, vocab_size: int,
                 banned_ids: Sequence[int], eos_id: int | None, *, recipe: LMRecipe = REFERENCE_LM_RECIPE,
                 seed: int = 0, device: torch.device = CPU) -> RNNGenerator:
    """The reference LM for `train`: loaded from `cache_dir` if cached, else trained by `recipe` and stored.

    An unreadable or mismatching cache file counts as a miss and is overwritten.
    """
    key = reference_lm_key(train_file_sha256, train, vocab_size, banned_ids, eos_id, recipe, seed)
    path = Path(cache_dir) / f"reference_lm_{key[:24]}.pt"
    lm = _load(path, key, vocab_size, banned_ids, eos_id, recipe)
    if lm is not None:
        return lm.to(device)
    lm = train_lm(train, vocab_size, banned_ids, eos_id, recipe=recipe, seed=seed, device=device)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # written whole, then renamed: readers never see half
    torch.save({"format": FORMAT, "key": key, "recipe": recipe.as_dict(), "seed": seed,
                "state_dict": {k: v.detach().cpu() for k, v in lm.state_dict().items()}}, tmp)
    tmp.replace(path)
    return lm


def _load(path: Path, key: str, vocab_size: int, banned_ids: Sequence[int], eos_id: int | None,
          recipe: LMRecipe) -> RNNGenerator | None:
    """The cached LM at `path` if it exists and was stored under `key`, else None."""
    if not path.is_file():
        return None
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        if stored.get("format") != FORMAT or stored.get("key") != key:
            return None
        with torch.random.fork_rng(devices=[]):  # the throwaway initial weights leave the caller's RNG alone
            lm = build_lm(vocab_size, banned_ids, eos_id, recipe)
        lm.load_state_dict(stored["state_dict"])
    except Exception:  # a truncated or foreign file is a cache miss, not an error: it is retrained
        return None
    return lm.eval()
