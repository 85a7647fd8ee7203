"""Tokenizers behind one small interface: word level (whitespace), sentencepiece, and the oracle's id vocabulary.

Every vocabulary starts with the same four specials, so models and batches never depend on the tokenizer:
PAD=0, BOS=1, EOS=2, UNK=3. A tokenizer's whole state is a plain dict (`state()`), stored in the run directory
and in every checkpoint and rebuilt with `tokenizer_from_state` (no pickled code). `vocabulary_signature()` is
what decides whether two tokenizers encode alike (the pieces and the settings), whatever their serialisation.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from textgan.errors import UserError

PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


class Tokenizer(Protocol):
    """Text <-> ids without specials; `vocab_size` counts the four specials."""

    kind: str
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def never_generated(self) -> list[int]:
        """Ids a generator must never produce (besides EOS, which depends on the data)."""
        ...

    def state(self) -> dict[str, Any]: ...

    def vocabulary_signature(self) -> dict[str, Any]:
        """Kind, vocabulary size, the id -> piece list and the settings that change encoding: equal signatures
        encode and decode alike (a checkpoint made with one can be read with the other)."""
        ...


class WordTokenizer:
    """Whitespace split, the convention of the published COCO / EMNLP-news text-GAN benchmarks."""

    kind = "word"

    def __init__(self, words: Sequence[str], lowercase: bool = False) -> None:
        self.words = list(SPECIALS) + list(words)
        self.lowercase = lowercase
        self.index = {w: i for i, w in enumerate(self.words)}
        self.vocab_size = len(self.words)

    @classmethod
    def fit(cls, lines: Iterable[str], lowercase: bool = False, min_freq: int = 1,
            max_vocab: int = 0) -> WordTokenizer:
        """Vocabulary of the training lines: words seen >= min_freq times, most frequent first (ties: a-z)."""
        counts = Counter(w for line in lines for w in (line.lower() if lowercase else line).split())
        kept = sorted((w for w, c in counts.items() if c >= min_freq and w not in SPECIALS),
                      key=lambda w: (-counts[w], w))
        if max_vocab:
            kept = kept[:max_vocab]
        return cls(kept, lowercase)

    def encode(self, text: str) -> list[int]:
        if self.lowercase:
            text = text.lower()
        return [self.index.get(w, UNK_ID) for w in text.split()]

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(self.words[i] for i in ids if i >= len(SPECIALS) or i == UNK_ID)

    def never_generated(self) -> list[int]:
        return [PAD_ID, BOS_ID]

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "words": self.words[len(SPECIALS):], "lowercase": self.lowercase}

    def vocabulary_signature(self) -> dict[str, Any]:
        return {"kind": self.kind, "vocab_size": self.vocab_size, "pieces": list(self.words),
                "lowercase": self.lowercase}


class SentencePieceTokenizer:
    """BPE or unigram subwords trained on the training split; the model bytes travel with the run."""

    kind = "sentencepiece"

    def __init__(self, model_proto: bytes, lowercase: bool = False) -> None:
        import sentencepiece as spm

        self.model_proto = model_proto
        self.lowercase = lowercase
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)
        self.vocab_size = self.processor.get_piece_size()
        assert self.processor.pad_id() == PAD_ID and self.processor.eos_id() == EOS_ID

    @classmethod
    def fit(cls, lines: Iterable[str], vocab_size: int, model_type: str = "bpe",
            lowercase: bool = False) -> SentencePieceTokenizer:
        """Train a sentencepiece model with our special-id layout (pad 0, bos 1, eos 2, unk 3)."""
        import sentencepiece as spm

        # Trained from memory into memory: the model proto then names no temporary path, so two fits on the same
        # lines give the same bytes (one thread: the same merge order).
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter([line.lower() if lowercase else line for line in lines]), model_writer=model,
                vocab_size=vocab_size, model_type=model_type, pad_id=PAD_ID, bos_id=BOS_ID, eos_id=EOS_ID,
                unk_id=UNK_ID, character_coverage=1.0, hard_vocab_limit=False, minloglevel=2, num_threads=1)
        except RuntimeError as err:
            raise UserError(f"sentencepiece training failed ({str(err).splitlines()[-1]}); "
                            f"try a smaller data.sp_vocab_size") from None
        return cls(model.getvalue(), lowercase)

    def encode(self, text: str) -> list[int]:
        return list(self.processor.encode(text.lower() if self.lowercase else text))

    def decode(self, ids: Sequence[int]) -> str:
        return self.processor.decode([i for i in ids if i >= len(SPECIALS) or i == UNK_ID])

    def never_generated(self) -> list[int]:
        return [PAD_ID, BOS_ID]

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "model_proto": self.model_proto, "lowercase": self.lowercase}

    def vocabulary_signature(self) -> dict[str, Any]:
        pieces = [self.processor.id_to_piece(i) for i in range(self.vocab_size)]
        scores = [self.processor.get_score(i) for i in range(self.vocab_size)]  # unigram segmentation reads them
        return {"kind": self.kind, "vocab_size": self.vocab_size, "pieces": pieces, "scores": scores,
                "lowercase": self.lowercase}


class OracleTokenizer:
    """The synthetic oracle's vocabulary: oracle token k is id k + 4 and is written as the word `k`."""

    kind = "oracle"

    def __init__(self, oracle_vocab_size: int) -> None:
        self.oracle_vocab_size = oracle_vocab_size
        self.vocab_size = oracle_vocab_size + len(SPECIALS)

    def encode(self, text: str) -> list[int]:
        try:
            ids = [int(w) + len(SPECIALS) for w in text.split()]
        except ValueError:
            raise UserError(f"oracle text must be integers 0..{self.oracle_vocab_size - 1}, "
                            f"got {text[:40]!r}") from None
        return [i if len(SPECIALS) <= i < self.vocab_size else UNK_ID for i in ids]

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(str(i - len(SPECIALS)) for i in ids if i >= len(SPECIALS))

    def never_generated(self) -> list[int]:
        return [PAD_ID, BOS_ID, UNK_ID]

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "oracle_vocab_size": self.oracle_vocab_size}

    def vocabulary_signature(self) -> dict[str, Any]:
        pieces = [*SPECIALS, *(str(k) for k in range(self.oracle_vocab_size))]
        return {"kind": self.kind, "vocab_size": self.vocab_size, "pieces": pieces}


def tokenizer_from_state(state: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer from `Tokenizer.state()`."""
    kind = state.get("kind")
    if kind == "word":
        return WordTokenizer(state["words"], state["lowercase"])
    if kind == "sentencepiece":
        return SentencePieceTokenizer(bytes(state["model_proto"]), state["lowercase"])
    if kind == "oracle":
        return OracleTokenizer(state["oracle_vocab_size"])
    raise UserError(f"unknown tokenizer kind {kind!r} in run data; was it written by a newer textgan?")
