"""Test-BLEU and self-BLEU as used in the text-GAN literature, exact to nltk and fast.

Convention (SeqGAN, Texygen, RelGAN, TextGAN-PyTorch): every generated sentence is scored with nltk's
``sentence_bleu(references, hypothesis, weights=(1/n,)*n, smoothing_function=SmoothingFunction().method1)``
where ``references`` is the WHOLE reference set, and BLEU-n is the plain mean over hypotheses.

nltk recomputes the n-gram counts of every reference for every hypothesis and order. The clipping count of an
n-gram (Papineni et al. 2002, "modified precision") is the max of its count over the references, which does not
depend on the hypothesis, so we compute one ``ngram -> max count`` table for orders 1..max(orders) once and reuse it.
For self-BLEU (Zhu et al. 2018) every sample is scored against all the other samples; we keep the two largest
counts per n-gram and the sentence holding the largest, which gives the exact leave-one-out max in O(1).

nltk corner cases reproduced bit for bit (nltk 3.x ``corpus_bleu``):
- no unigram match (this includes the empty hypothesis) -> 0.0, *even with smoothing*;
- a precision denominator is ``max(1, number of hypothesis n-grams)``, so a hypothesis shorter than n has
  precision 0/1, which method1 (Chen & Cherry 2014) smooths to ``(0 + 0.1) / 1``;
- score = ``bp * exp(fsum(w * log(p_k) for k = 1..n))`` with ``w = 1/n``, ``p_k = num/den`` (int true division)
  or ``0.1/den`` when ``num == 0``; ``bp = 1`` if hyp_len > r else ``exp(1 - r/hyp_len)``;
- r is the reference length closest to the hypothesis length, ties going to the shorter length.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BleuResult", "test_bleu", "self_bleu", "sentence_bleu_scores", "self_bleu_sentence_scores"]

# Chen & Cherry (2014) method1: a zero n-gram match count becomes epsilon (nltk's default 0.1).
_EPSILON = 0.1
DEFAULT_ORDERS: tuple[int, ...] = (2, 3, 4, 5)

Ngram = tuple[str, ...]


@dataclass(frozen=True)
class BleuResult:
    """Mean sentence-level BLEU-n over the hypotheses, and which hypotheses/references were used."""

    scores: dict[int, float]  # n -> mean BLEU-n over the hypotheses, in [0, 1]
    num_hypotheses: int  # hypotheses scored (after max_hypotheses)
    num_references: int  # references each hypothesis was scored against (after max_references; self-BLEU: K - 1)


# ---------------------------------------------------------------------------------------------- input checks


def _check_orders(orders: Sequence[int]) -> tuple[int, ...]:
    result = tuple(orders)
    if not result or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in result):
        raise ValueError(f"BLEU orders must be a non-empty list of integers >= 1, got {list(orders)!r}")
    return result


def _check_token_lists(sentences: Sequence[Sequence[str]], what: str) -> list[tuple[str, ...]]:
    # A plain string is a Sequence[str] of characters: almost always a forgotten tokenisation step.
    if isinstance(sentences, str):
        raise ValueError(f"{what} must be a list of token lists, got a single string; tokenize it first")
    out = []
    for sentence in sentences:
        if isinstance(sentence, str):
            raise ValueError(
                f"{what} must be token lists, got the string {sentence[:40]!r}; "
                "tokenize first, e.g. textgan.evaluation.text_metrics.tokenize_for_bleu"
            )
        out.append(tuple(sentence))
    return out


def _first(items: list[tuple[str, ...]], limit: int | None, option: str) -> list[tuple[str, ...]]:
    if limit is None:
        return items
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"{option} must be None or an integer >= 1, got {limit!r}")
    return items[:limit]


# ---------------------------------------------------------------------------------------------- arithmetic


def _ngram_counts(tokens: tuple[str, ...], max_order: int) -> Counter[Ngram]:
    """Counts of all n-grams of orders 1..max_order in one Counter (tuples of different lengths never collide)."""
    counts: Counter[Ngram] = Counter()
    length = len(tokens)
    for n in range(1, min(max_order, length) + 1):
        counts.update(tokens[i : i + n] for i in range(length - n + 1))
    return counts


def _closest_length(sorted_lengths: list[int], hyp_len: int) -> int:
    """The reference length closest to hyp_len, ties to the shorter one (nltk ``closest_ref_length``)."""
    i = bisect_left(sorted_lengths, hyp_len)
    candidates = sorted_lengths[max(0, i - 1) : i + 1]  # largest length < hyp_len and smallest >= hyp_len
    return min(candidates, key=lambda r: (abs(r - hyp_len), r))


def _bleu(numerators: list[int], hyp_len: int, ref_len: int, n: int) -> float:
    """Smoothed (method1) sentence BLEU-n from clipped match counts; numerators[k] is the order-k count."""
    if numerators[1] == 0:  # nltk returns 0 before smoothing when nothing matches at all
        return 0.0
    weight = 1 / n  # the same float as each entry of nltk's weights=(1/n,)*n
    log_terms = []
    for k in range(1, n + 1):
        denominator = max(1, hyp_len - k + 1)  # nltk: max(1, number of hypothesis k-grams)
        p_k = numerators[k] / denominator if numerators[k] else (0 + _EPSILON) / denominator
        log_terms.append(weight * math.log(p_k))
    # Brevity penalty (Papineni et al. 2002); hyp_len > 0 here because a unigram matched.
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return bp * math.exp(math.fsum(log_terms))


def _scores_for(numerators: list[int], hyp_len: int, ref_len: int, orders: tuple[int, ...]) -> list[float]:
    return [_bleu(numerators, hyp_len, ref_len, n) for n in orders]


# ---------------------------------------------------------------------------------------------- per sentence


def sentence_bleu_scores(
    hypotheses: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    orders: Sequence[int] = DEFAULT_ORDERS,
) -> dict[int, list[float]]:
    """Per-hypothesis BLEU-n of every hypothesis against the whole reference set.

    Equals ``nltk.translate.bleu_score.sentence_bleu(references, hyp, (1/n,)*n, SmoothingFunction().method1)``.
    Returns ``{n: [score of hypothesis 0, score of hypothesis 1, ...]}``.
    """
    orders = _check_orders(orders)
    hyps = _check_token_lists(hypotheses, "hypotheses")
    refs = _check_token_lists(references, "references")
    if not refs:
        raise ValueError("the reference set is empty; pass at least one tokenized reference sentence")
    max_order = max(orders)

    # Clipping counts (Papineni et al. 2002): max count of each n-gram in any single reference, computed once.
    max_counts: dict[Ngram, int] = {}
    for ref in refs:
        for gram, count in _ngram_counts(ref, max_order).items():
            if count > max_counts.get(gram, 0):
                max_counts[gram] = count
    ref_lengths = sorted({len(ref) for ref in refs})  # only the distinct lengths matter for r

    per_order: dict[int, list[float]] = {n: [] for n in orders}
    for hyp in hyps:
        numerators = [0] * (max_order + 1)  # index k: clipped k-gram matches
        for gram, count in _ngram_counts(hyp, max_order).items():
            numerators[len(gram)] += min(count, max_counts.get(gram, 0))
        ref_len = _closest_length(ref_lengths, len(hyp))
        for n, score in zip(orders, _scores_for(numerators, len(hyp), ref_len, orders)):
            per_order[n].append(score)
    return per_order


def self_bleu_sentence_scores(
    samples: Sequence[Sequence[str]], orders: Sequence[int] = DEFAULT_ORDERS
) -> dict[int, list[float]]:
    """Per-sample self-BLEU-n: sample i against all OTHER samples (exact leave-one-out, Zhu et al. 2018).

    Equals nltk ``sentence_bleu(samples[:i] + samples[i+1:], samples[i], ...)`` with method1 smoothing.
    Returns ``{n: [score of sample 0, ...]}``.
    """
    orders = _check_orders(orders)
    sents = _check_token_lists(samples, "samples")
    if len(sents) < 2:
        raise ValueError(f"self-BLEU needs at least 2 samples (each is scored against the others), got {len(sents)}")
    max_order = max(orders)
    counts = [_ngram_counts(s, max_order) for s in sents]

    # Per n-gram: [largest count, index of the (first) sentence holding it, second largest count].
    # Leaving sentence i out, the max over the others is the second largest iff i holds the largest.
    top: dict[Ngram, list[int]] = {}
    for i, sentence_counts in enumerate(counts):
        for gram, count in sentence_counts.items():
            entry = top.get(gram)
            if entry is None:
                top[gram] = [count, i, 0]
            elif count > entry[0]:
                entry[2], entry[0], entry[1] = entry[0], count, i
            elif count > entry[2]:
                entry[2] = count  # also for a tie with the largest: the others still hold that count

    # Reference lengths = multiset of all lengths minus sample i's own length once.
    length_multiplicity = Counter(len(s) for s in sents)
    lengths = sorted(length_multiplicity)

    per_order: dict[int, list[float]] = {n: [] for n in orders}
    for i, sentence_counts in enumerate(counts):
        numerators = [0] * (max_order + 1)
        for gram, count in sentence_counts.items():
            best, owner, second = top[gram]
            numerators[len(gram)] += min(count, second if owner == i else best)
        hyp_len = len(sents[i])
        if length_multiplicity[hyp_len] >= 2:
            ref_len = hyp_len  # another sample has exactly this length: distance 0
        else:
            ref_len = _closest_length([r for r in _neighbours(lengths, hyp_len) if r != hyp_len], hyp_len)
        for n, score in zip(orders, _scores_for(numerators, hyp_len, ref_len, orders)):
            per_order[n].append(score)
    return per_order


def _neighbours(sorted_lengths: list[int], length: int) -> list[int]:
    """The sorted lengths just below, at and just above `length` (enough to find the closest other length)."""
    i = bisect_left(sorted_lengths, length)
    return sorted_lengths[max(0, i - 1) : i + 2]


# ---------------------------------------------------------------------------------------------- corpus means


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)  # Texygen's sum(bleu) / len(bleu), same summation order


def test_bleu(
    hypotheses: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    orders: Sequence[int] = DEFAULT_ORDERS,
    max_references: int | None = None,
    max_hypotheses: int | None = None,
) -> BleuResult:
    """Mean smoothed sentence BLEU-n of generated sentences against a reference (test) set.

    hypotheses/references: tokenized sentences (lists of string tokens). ``max_references=500`` reproduces
    Texygen's ``Bleu.get_bleu_fast`` (first 500 references, all hypotheses); ``max_hypotheses=200`` reproduces
    TextGAN-PyTorch (first 200 hypotheses, all references). The first K items are used, in the given order.
    """
    hyps = _first(_check_token_lists(hypotheses, "hypotheses"), max_hypotheses, "max_hypotheses")
    refs = _first(_check_token_lists(references, "references"), max_references, "max_references")
    if not hyps:
        raise ValueError("there are no hypotheses to score; pass at least one tokenized generated sentence")
    per_order = sentence_bleu_scores(hyps, refs, orders)
    return BleuResult({n: _mean(s) for n, s in per_order.items()}, len(hyps), len(refs))


def self_bleu(
    samples: Sequence[Sequence[str]],
    orders: Sequence[int] = DEFAULT_ORDERS,
    max_hypotheses: int | None = None,
) -> BleuResult:
    """Mean self-BLEU-n (Zhu et al. 2018): each sample scored against all the other samples; lower = more diverse.

    ``max_hypotheses=K`` follows Texygen's ``SelfBleu.get_bleu_fast`` (K=500): the sample set is cut to its
    first K samples, and each of them is scored against the other K-1 (not against the samples beyond K).
    The sentence itself is never among its own references (exact leave-one-out).
    """
    sents = _first(_check_token_lists(samples, "samples"), max_hypotheses, "max_hypotheses")
    per_order = self_bleu_sentence_scores(sents, orders)
    return BleuResult({n: _mean(s) for n, s in per_order.items()}, len(sents), len(sents) - 1)


# pytest would otherwise collect `test_bleu` as a test wherever it is imported into a test module.
test_bleu.__test__ = False  # type: ignore[attr-defined]
