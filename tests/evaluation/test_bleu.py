"""textgan.evaluation.bleu must equal nltk's sentence_bleu + method1 (the Texygen convention) within 1e-12."""

from __future__ import annotations

import math
import random

import pytest
from nltk.translate.bleu_score import SmoothingFunction
from nltk.translate.bleu_score import sentence_bleu as nltk_sentence_bleu

from textgan.evaluation import bleu  # module import: keeps pytest from collecting bleu.test_bleu as a test

ORDERS = (2, 3, 4, 5)
TOL = 1e-12


def nltk_score(references: list[list[str]], hypothesis: list[str], n: int) -> float:
    """The naive reference: exactly the call SeqGAN/Texygen/RelGAN/TextGAN-PyTorch make."""
    weights = tuple(1.0 / n for _ in range(n))
    return nltk_sentence_bleu(references, hypothesis, weights, smoothing_function=SmoothingFunction().method1)


def random_sentence(rng: random.Random, vocab: list[str], max_len: int) -> list[str]:
    return [rng.choice(vocab) for _ in range(rng.randint(0, max_len))]


def random_case(seed: int) -> tuple[list[list[str]], list[list[str]]]:
    """Small vocabularies (many repeats and matches), varying set sizes, plus forced corner-case hypotheses."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(rng.randint(1, 6))]
    refs = [random_sentence(rng, vocab, 8) for _ in range(rng.randint(1, 12))]
    hyps = [random_sentence(rng, vocab + ["oov"], 9) for _ in range(rng.randint(1, 6))]
    hyps += [
        [],  # empty hypothesis
        [rng.choice(vocab)],  # one in-vocabulary token
        ["oov1", "oov2", "oov1"],  # no token in any reference
        [vocab[0]] * rng.randint(2, 7),  # a repeated token: clipping
        rng.choice(refs) + ["oov"],  # near copy of a reference
    ]
    return hyps, refs


@pytest.mark.parametrize("chunk", range(4))
def test_test_bleu_equals_nltk_on_random_cases(chunk: int) -> None:
    for seed in range(chunk * 50, chunk * 50 + 50):  # 200 random cases in total
        hyps, refs = random_case(seed)
        ours = bleu.sentence_bleu_scores(hyps, refs, ORDERS)
        for n in ORDERS:
            expected = [nltk_score(refs, h, n) for h in hyps]
            assert len(ours[n]) == len(hyps)
            for got, want, hyp in zip(ours[n], expected, hyps):
                assert abs(got - want) <= TOL, (seed, n, hyp, refs, got, want)
            mean = bleu.test_bleu(hyps, refs, ORDERS).scores[n]
            assert abs(mean - sum(expected) / len(expected)) <= TOL


@pytest.mark.parametrize("chunk", range(4))
def test_self_bleu_equals_nltk_leave_one_out_on_random_cases(chunk: int) -> None:
    for seed in range(chunk * 50, chunk * 50 + 50):
        rng = random.Random(10_000 + seed)
        vocab = [f"w{i}" for i in range(rng.randint(1, 5))]
        samples = [random_sentence(rng, vocab, 7) for _ in range(rng.randint(2, 10))]
        # Duplicates exercise the "two largest counts" bookkeeping and the length multiset.
        samples += [list(rng.choice(samples)) for _ in range(rng.randint(0, 3))]
        rng.shuffle(samples)
        ours = bleu.self_bleu_sentence_scores(samples, ORDERS)
        for n in ORDERS:
            expected = [nltk_score(samples[:i] + samples[i + 1 :], s, n) for i, s in enumerate(samples)]
            for i, (got, want) in enumerate(zip(ours[n], expected)):
                assert abs(got - want) <= TOL, (seed, n, i, samples, got, want)
            assert abs(bleu.self_bleu(samples, ORDERS).scores[n] - sum(expected) / len(expected)) <= TOL


def test_brevity_penalty_uses_the_closest_length_across_far_apart_lengths() -> None:
    # Only a few distinct lengths; the hypothesis length falls below, between and above them.
    refs = [["a"] * 3, ["a", "b"] * 10, ["b"] * 40]
    for length in range(1, 50):
        hyp = ["a", "b"] * (length // 2) + ["a"] * (length % 2)
        ours = bleu.sentence_bleu_scores([hyp], refs, ORDERS)
        for n in ORDERS:
            assert abs(ours[n][0] - nltk_score(refs, hyp, n)) <= TOL, (length, n)


S = str.split
# (hypothesis, references, {n: expected}) worked out by hand; p_k = clipped k-gram matches / hyp k-grams.
TABLE = [
    # "the cat sat down" vs 2 refs: unigrams 4/4 ("the" max count 2 in ref 1, "down" from ref 2), bigrams 3/3,
    # trigrams 2/2 ("the cat sat" ref 1, "cat sat down" ref 2), 4-gram 0/1 -> method1 0.1/1, 5-grams: the
    # hypothesis is too short, nltk's denominator max(1, 0) = 1 -> 0.1. r = 4 (lengths 6, 4) -> BP = 1.
    (
        S("the cat sat down"),
        [S("the cat sat on the mat"), S("a cat sat down")],
        {2: 1.0, 3: 1.0, 4: 0.1**0.25, 5: (0.1 * 0.1) ** 0.2},
    ),
    # "cat sat" vs a 6-token ref: p1 = 2/2, p2 = 1/1, p3 = p4 = 0.1 (too short); BP = exp(1 - 6/2) = exp(-2).
    (
        S("cat sat"),
        [S("the cat sat on the mat")],
        {2: math.exp(-2), 3: math.exp(-2) * 0.1 ** (1 / 3), 4: math.exp(-2) * 0.01**0.25},
    ),
    # Clipping: "the the the the": p1 = min(4, 2)/4 = 1/2, p2 = 0/3 -> 0.1/3; BP = exp(1 - 6/4) = exp(-0.5).
    (S("the the the the"), [S("the cat sat on the mat")], {2: math.exp(-0.5) * math.sqrt(0.5 * 0.1 / 3)}),
    # Length tie 4 vs 6 for a 5-token hypothesis goes to the SHORTER one: r = 4 < 5 -> BP = 1 (r = 6 would give
    # exp(1 - 6/5)). p1 = 5/5 ("e" is in the second ref), p2 = 4/4 -> 1.0.
    (S("a b c d e"), [S("a b c d"), S("a b c d e f")], {2: 1.0}),
    # No unigram match at all: nltk returns 0 before smoothing, for every order.
    (S("x y z"), [S("a b c"), S("c b a")], {2: 0.0, 3: 0.0, 4: 0.0, 5: 0.0}),
    # Empty hypothesis: 0 as well.
    ([], [S("a b c")], {2: 0.0, 5: 0.0}),
]


@pytest.mark.parametrize(("hyp", "refs", "expected"), TABLE)
def test_hand_computed_table(hyp: list[str], refs: list[list[str]], expected: dict[int, float]) -> None:
    ours = bleu.sentence_bleu_scores([hyp], refs, tuple(expected))
    for n, value in expected.items():
        assert ours[n][0] == pytest.approx(value, rel=1e-12, abs=1e-15)


def test_self_bleu_hand_computed() -> None:
    # ["a b","a b","c d"]: samples 0 and 1 find their twin -> 1.0; "c d" matches nothing in the others -> 0.
    assert bleu.self_bleu([S("a b"), S("a b"), S("c d")], (2,)).scores[2] == pytest.approx(2 / 3, rel=1e-12)
    # ["a b c","a b"]: "a b c" vs "a b": p1 = 2/3, p2 = 1/2, r = 2 < 3 -> sqrt(1/3);
    # "a b" vs "a b c": p1 = p2 = 1, BP = exp(1 - 3/2). Including the sentence itself would give 1.0 each.
    result = bleu.self_bleu([S("a b c"), S("a b")], (2,))
    assert result.scores[2] == pytest.approx((math.sqrt(1 / 3) + math.exp(-0.5)) / 2, rel=1e-12)
    assert (result.num_hypotheses, result.num_references) == (2, 1)


def test_sentence_against_a_set_containing_itself_scores_one() -> None:
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(20)]
    refs = [random_sentence(rng, vocab, 12) for _ in range(30)]
    for ref in refs:
        if len(ref) >= 5:
            scores = bleu.sentence_bleu_scores([ref], refs, ORDERS)
            assert all(scores[n][0] == pytest.approx(1.0, abs=1e-12) for n in ORDERS)


def test_self_bleu_identical_is_one_and_disjoint_is_small() -> None:
    same = [S("a man rides a horse on the beach")] * 5
    assert all(v == pytest.approx(1.0, abs=1e-12) for v in bleu.self_bleu(same).scores.values())
    # Pairwise disjoint vocabularies: no unigram ever matches -> 0.
    disjoint = [[f"s{i}t{j}" for j in range(8)] for i in range(6)]
    assert all(v == 0.0 for v in bleu.self_bleu(disjoint).scores.values())
    # Sharing one token only: small, far below 1.
    mostly = [[f"s{i}t{j}" for j in range(7)] + ["."] for i in range(6)]
    assert all(0.0 < v < 0.2 for v in bleu.self_bleu(mostly).scores.values())


def test_max_references_and_max_hypotheses_use_exactly_the_first_k() -> None:
    hyps, refs = random_case(3)
    rng = random.Random(3)
    refs = refs + [random_sentence(rng, ["w0", "w1", "zz"], 8) for _ in range(10)]
    full = bleu.test_bleu(hyps, refs)
    cut = bleu.test_bleu(hyps, refs, max_references=4, max_hypotheses=3)
    assert (cut.num_hypotheses, cut.num_references) == (3, 4)
    assert cut.scores == bleu.test_bleu(hyps[:3], refs[:4]).scores
    assert cut.scores != bleu.test_bleu(hyps[-3:], refs[-4:]).scores  # the choice of K items matters here
    assert (full.num_hypotheses, full.num_references) == (len(hyps), len(refs))
    assert bleu.test_bleu(hyps, refs, max_references=10**6).scores == full.scores  # K > size: everything


def test_self_bleu_max_hypotheses_is_texygen_first_k_against_each_other() -> None:
    samples = [S("a b c"), S("a b"), S("a b c d"), S("x y"), S("a b c")]
    cut = bleu.self_bleu(samples, (2, 3), max_hypotheses=3)
    assert (cut.num_hypotheses, cut.num_references) == (3, 2)
    assert cut.scores == bleu.self_bleu(samples[:3], (2, 3)).scores
    assert cut.scores != bleu.self_bleu(samples, (2, 3)).scores


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: bleu.test_bleu([S("a b")], []), "reference set is empty"),
        (lambda: bleu.test_bleu([], [S("a b")]), "no hypotheses"),
        (lambda: bleu.test_bleu(["a b"], [S("a b")]), "token lists"),
        (lambda: bleu.test_bleu([S("a b")], [S("a b")], orders=(0, 2)), "orders"),
        (lambda: bleu.test_bleu([S("a b")], [S("a b")], max_references=0), "max_references"),
        (lambda: bleu.self_bleu([S("a b")]), "at least 2 samples"),
    ],
)
def test_user_errors_are_value_errors(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_test_bleu_is_not_collected_by_pytest() -> None:
    assert bleu.test_bleu.__test__ is False
