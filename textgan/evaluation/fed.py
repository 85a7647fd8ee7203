"""FED: Frechet embedding distance between samples and real sentences (de Masson d'Autume et al. 2019, ScratchGAN).

Fit a Gaussian to the sentence features of each set and take the Frechet (2-Wasserstein) distance between them
(Heusel et al. 2017, eq. 6, as in FID):

    FED = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))

ScratchGAN used Universal Sentence Encoder features; none can be downloaded here, so the default features are the
reference LM's mean-pooled hidden states (`sentence_features`), and any `FeatureFn` (for example a local
sentence-transformers model) plugs in instead. Lower is better; FED is biased upwards for small sets, so the
sample count is reported with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from textgan.data.batching import TokenData
from textgan.data.tokenizers import BOS_ID, PAD_ID
from textgan.errors import UserError
from textgan.models.generator import RNNGenerator

__all__ = ["FeatureFn", "frechet_distance", "fed", "sentence_features", "text_features"]

CPU = torch.device("cpu")

FeatureFn = Callable[[list[str]], torch.Tensor]  # N lines of text -> (N, D) sentence features


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (D, D) by eigendecomposition."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to features a (N, D) and b (M, D), in float64.

    Tr((S_a S_b)^(1/2)) is computed as Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)): the two products have the same
    eigenvalues, and the second is symmetric PSD, so `eigh` gives real, non-negative roots. This avoids
    scipy.linalg.sqrtm of the non-symmetric S_a S_b, whose result carries spurious imaginary parts that FID code
    has to discard, and keeps scipy out of the core package.
    """
    if a.dim() != 2 or b.dim() != 2 or a.size(1) != b.size(1):
        raise ValueError(f"frechet_distance needs (N, D) and (M, D) features, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if a.size(0) < 2 or b.size(0) < 2:
        raise ValueError("frechet_distance needs at least 2 feature rows per set to fit a covariance")
    a, b = a.detach().to(CPU, torch.float64), b.detach().to(CPU, torch.float64)
    mean_a, mean_b = a.mean(0), b.mean(0)  # (D,)
    dim = a.size(1)
    cov_a, cov_b = torch.cov(a.T).reshape(dim, dim), torch.cov(b.T).reshape(dim, dim)  # unbiased, as numpy.cov
    root_a = _sqrt_psd(cov_a)
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()  # Tr((S_a S_b)^(1/2))
    distance = (mean_a - mean_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross
    return max(float(distance), 0.0)  # rounding can leave -1e-12 for equal sets


def fed(sample_features: torch.Tensor, reference_features: torch.Tensor) -> dict[str, float]:
    """{"fed", "fed_samples", "fed_references"}: Frechet distance of samples (N, D) to real sentences (M, D)."""
    return {"fed": frechet_distance(sample_features, reference_features),
            "fed_samples": sample_features.size(0), "fed_references": reference_features.size(0)}


@torch.no_grad()
def sentence_features(lm: RNNGenerator, data: TokenData, *, batch_size: int = 256,
                      device: torch.device = CPU) -> torch.Tensor:
    """(N, H) float32: the LM's hidden states after reading each real token (EOS included), averaged per sentence."""
    was_training = lm.training
    lm.eval()
    rows = []
    for start in range(0, len(data), batch_size):
        lengths = data.lengths[start:start + batch_size]
        tokens = data.tokens[start:start + batch_size, :int(lengths.max())].to(device)  # (B, T)
        bos = tokens.new_full((tokens.size(0), 1), BOS_ID)  # (B, 1)
        outputs, _ = lm.run(torch.cat([bos, tokens], dim=1))  # (B, T + 1, H); step t + 1 has read y_t
        real = (tokens != PAD_ID).unsqueeze(-1).to(outputs.dtype)  # (B, T, 1)
        pooled = (outputs[:, 1:] * real).sum(1) / real.sum(1).clamp(min=1)  # (B, H)
        rows.append(pooled.float().cpu())
    lm.train(was_training)
    return torch.cat(rows) if rows else torch.zeros(0, lm.hidden_size)


def text_features(feature_fn: FeatureFn, lines: Sequence[str]) -> torch.Tensor:
    """(N, D) features of N lines from a user's feature function, checked so a wrong shape fails in one line."""
    features = feature_fn(list(lines))
    if not isinstance(features, torch.Tensor):
        try:
            features = torch.as_tensor(features)
        except (TypeError, ValueError, RuntimeError):
            raise UserError(f"the feature function returned {type(features).__name__}; return a (N, D) tensor "
                            f"or array of N = {len(lines)} rows") from None
    if features.dim() != 2 or features.size(0) != len(lines):
        raise UserError(f"the feature function returned shape {tuple(features.shape)} for {len(lines)} lines; "
                        f"return one row of features per line, shape ({len(lines)}, D)")
    if not bool(torch.isfinite(features).all()):
        raise UserError("the feature function returned NaN or infinite features; check the encoder")
    return features.detach().float().cpu()
