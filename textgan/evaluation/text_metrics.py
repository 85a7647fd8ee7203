"""Cheap sample metrics for generated text: tokenization for BLEU, distinct-n, lengths, copying, sacreBLEU."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

__all__ = ["BleuTokenization", "tokenize_for_bleu", "distinct_n", "length_stats", "copied_fraction", "corpus_bleu"]

# "whitespace": str.split(), the tokens a word-level GAN actually generates.
# "treebank": nltk's Penn-Treebank word tokenizer (Texygen/TextGAN-PyTorch use nltk.word_tokenize), which splits
#   punctuation and clitics ("horse." -> "horse", "."). We pass preserve_line=True: no Punkt sentence splitting,
#   so no downloaded nltk data is needed; it differs from nltk.word_tokenize only for a period ending a sentence
#   in the MIDDLE of a line (one caption per line: identical).
BleuTokenization = Literal["whitespace", "treebank"]


def tokenize_for_bleu(lines: Sequence[str], scheme: BleuTokenization = "whitespace") -> list[list[str]]:
    """Split raw text lines into token lists for BLEU (``"whitespace"`` or nltk ``"treebank"``)."""
    if isinstance(lines, str):
        raise ValueError("tokenize_for_bleu expects a list of lines, got a single string; wrap it in a list")
    if scheme == "whitespace":
        return [line.split() for line in lines]
    if scheme == "treebank":
        from nltk.tokenize import word_tokenize  # imported lazily: nltk is slow to import

        return [word_tokenize(line, preserve_line=True) for line in lines]
    raise ValueError(f"unknown BLEU tokenization {scheme!r}; use 'whitespace' or 'treebank'")


def distinct_n(samples: Sequence[Sequence[str]], n: int) -> float:
    """Distinct-n (Li et al. 2016): unique n-grams / total n-grams over the whole sample set (0.0 if none)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"distinct-n order must be an integer >= 1, got {n!r}")
    unique: set[tuple[str, ...]] = set()
    total = 0
    for sample in samples:
        tokens = tuple(sample)
        grams = [tokens[i : i + n] for i in range(len(tokens) - n + 1)]
        total += len(grams)
        unique.update(grams)
    return len(unique) / total if total else 0.0


def length_stats(samples: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean and max length (in tokens) of the samples: ``{"mean_length": float, "max_length": int}``."""
    lengths = [len(sample) for sample in samples]
    if not lengths:
        raise ValueError("length_stats got no samples; pass at least one tokenized sample")
    return {"mean_length": sum(lengths) / len(lengths), "max_length": max(lengths)}


def copied_fraction(samples: Sequence[Sequence[str]], training_sentences: Sequence[Sequence[str]]) -> float:
    """Fraction of samples whose whole token sequence occurs verbatim in the training set (memorisation check)."""
    if not samples:
        raise ValueError("copied_fraction got no samples; pass at least one tokenized sample")
    training = {tuple(sentence) for sentence in training_sentences}
    return sum(tuple(sample) in training for sample in samples) / len(samples)


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str], tokenize: str = "13a") -> float:
    """sacreBLEU corpus BLEU (0..100 scale, NOT 0..1) of aligned detokenized lines: hypothesis i <-> reference i.

    Unlike test-BLEU this is the standard MT metric (Post 2018): one reference per hypothesis, n-gram counts
    pooled over the corpus, sacreBLEU's own tokenizer (default "13a"), BLEU-4, no smoothing beyond sacreBLEU's.
    """
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise ValueError("corpus_bleu expects lists of lines, got a single string; wrap it in a list")
    if len(hypotheses) != len(references):
        raise ValueError(
            f"corpus_bleu needs one reference per hypothesis, got {len(hypotheses)} hypotheses and "
            f"{len(references)} references; align the two lists"
        )
    if not hypotheses:
        raise ValueError("corpus_bleu got no lines; pass at least one hypothesis/reference pair")
    import sacrebleu  # imported lazily: only this function needs it

    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize=tokenize).score)
