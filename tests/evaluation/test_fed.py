"""FED: zero for a set against itself, closed forms for shifted and scaled sets; pooled LM features per sentence."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import scipy.linalg
import torch

from textgan.data.batching import TokenData, pad_rows
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, WordTokenizer
from textgan.errors import UserError
from textgan.evaluation.fed import fed, frechet_distance, sentence_features, text_features
from textgan.models.generator import RNNGenerator

Captions = tuple[WordTokenizer, TokenData, TokenData]


def features(num: int = 500, dim: int = 8, seed: int = 0) -> torch.Tensor:
    """(num, dim) correlated Gaussian features (a random linear map of N(0, I))."""
    draw = torch.Generator().manual_seed(seed)
    return torch.randn(num, dim, generator=draw) @ torch.randn(dim, dim, generator=draw) + 3.0


@pytest.mark.parametrize("num, dim", [(500, 8), (50, 1), (64, 32), (20, 64)])  # the last two: rank-deficient
def test_a_set_against_itself_is_zero(num: int, dim: int) -> None:
    a = features(num, dim)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


SHIFTS = [0.0, 0.5, 1.0, 2.0]


def test_grows_monotonically_with_a_mean_shift() -> None:
    a = features()
    distances = [frechet_distance(a, a + shift) for shift in SHIFTS]
    assert all(x < y for x, y in pairwise(distances))
    # same covariance: only the squared mean difference remains, shift^2 per dimension
    assert distances == pytest.approx([8 * shift ** 2 for shift in SHIFTS], abs=1e-6)


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0, 3.0])
def test_a_scaled_set_has_the_closed_form(scale: float) -> None:
    a = features().double()  # built in float64, so the closed form holds to rounding
    centred = a - a.mean(0)
    # S_b = c^2 S_a, so Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) = (1 - c)^2 Tr(S_a), and the means are equal
    expected = (1 - scale) ** 2 * float(torch.cov(centred.T).trace())
    assert frechet_distance(a, a.mean(0) + scale * centred) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_symmetric_and_matches_the_scipy_formula(seed: int) -> None:
    a, b = features(300, 6, seed), 0.7 * features(200, 6, seed + 10) - 1.0
    a64, b64 = a.double().numpy(), b.double().numpy()
    cov_a, cov_b = np.cov(a64, rowvar=False), np.cov(b64, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real  # the FID reference implementation's route
    expected = ((a64.mean(0) - b64.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(b, a) == pytest.approx(frechet_distance(a, b), rel=1e-10)


@pytest.mark.parametrize("shift, scale", [(0.0, 2.0), (1.5, 1.0), (-1.0, 0.5)])
def test_one_dimension_is_the_closed_form_for_two_normals(shift: float, scale: float) -> None:
    a = features(400, 1).double()
    b = shift + a.mean(0) + scale * (a - a.mean(0))
    # 1-D: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2
    expected = shift ** 2 + (1 - scale) ** 2 * float(a.var())
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_fed_reports_the_set_sizes() -> None:
    result = fed(features(300, 4), features(200, 4, seed=1))
    assert (result["fed_samples"], result["fed_references"]) == (300, 200)
    assert result["fed"] > 0


@pytest.mark.parametrize("a, b", [((10, 4), (10, 5)), ((1, 4), (10, 4)), ((10,), (10,))])
def test_frechet_distance_rejects_bad_shapes(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        frechet_distance(torch.zeros(a), torch.zeros(b))


def lm(vocab_size: int = 12) -> RNNGenerator:
    torch.manual_seed(0)
    return RNNGenerator(vocab_size=vocab_size, embedding_size=6, hidden_size=8, init_std=0.5,
                        banned_ids=[PAD_ID, BOS_ID])


def test_sentence_features_pool_the_states_after_each_real_token() -> None:
    model = lm()
    rows = [[5, 6, 7, EOS_ID], [4, EOS_ID], [8, 9, 10, 11, 5, EOS_ID]]
    pooled = sentence_features(model, pad_rows(rows), batch_size=2)
    assert pooled.shape == (3, 8)
    for row, feature in zip(rows, pooled):
        outputs, _ = model.run(torch.tensor([[BOS_ID, *row]]))  # (1, L + 1, H), no padding at all
        assert torch.allclose(feature, outputs[0, 1:].mean(0), atol=1e-6)


def test_sentence_features_do_not_depend_on_the_batch(captions: Captions, one_thread: None) -> None:
    tokenizer, _, test = captions
    model = lm(tokenizer.vocab_size)
    one_batch = sentence_features(model, test, batch_size=len(test))
    singles = sentence_features(model, test, batch_size=1)
    assert torch.allclose(one_batch, singles, atol=1e-6)
    assert model.training  # the caller's mode is restored


@pytest.mark.parametrize("returned, message", [
    ([[1.0, 2.0]] * 2, "shape"),               # 2 rows for 3 lines
    ("not features", "returned str"),
    ([[1.0, float("nan")]] * 3, "NaN"),
    ([1.0, 2.0, 3.0], "shape"),                # one number per line: not (N, D)
])
def test_a_bad_feature_function_fails_in_one_line(returned: object, message: str) -> None:
    with pytest.raises(UserError, match=message):
        text_features(lambda lines: returned, ["a", "b", "c"])


def test_a_feature_function_may_return_numpy() -> None:
    result = text_features(lambda lines: np.ones((len(lines), 5)), ["a", "b", "c"])
    assert result.shape == (3, 5) and result.dtype == torch.float32
