"""MAUVE (Pillutla et al. 2021) between samples and real sentences, through the `mauve-text` package.

MAUVE quantizes the two feature sets jointly (PCA to 90% variance, k-means into n/10 buckets), and integrates
the divergence frontier of the two bucket histograms: 1 = same distribution, -> 0 = disjoint. We pass
precomputed features (the reference LM's pooled states or a user's `FeatureFn`, see `textgan.evaluation.fed`),
never text, so mauve never downloads GPT-2. `mauve-text` is GPL-3.0: it is the optional extra `textgan[mauve]`
and is imported only inside `mauve_score`.
"""

from __future__ import annotations

import torch

from textgan.errors import UserError

__all__ = ["mauve_score"]


def mauve_score(sample_features: torch.Tensor, reference_features: torch.Tensor, *, seed: int = 25,
                threads: int | None = 1, kmeans_num_redo: int = 5, kmeans_max_iter: int = 500
                ) -> dict[str, float]:
    """{"mauve", "mauve_samples", "mauve_references", "mauve_buckets"} of samples (N, D) against real (M, D).

    The package's defaults otherwise (l2-normalised features, buckets = min(N, M) / 10, scaling factor 5); `seed`
    fixes its k-means. `threads` caps the BLAS and OpenMP threads mauve's PCA and faiss k-means use (None: theirs).
    """
    try:
        import mauve
        from threadpoolctl import threadpool_limits  # installed with mauve-text (a scikit-learn dependency)
    except ImportError:
        raise UserError("MAUVE needs the optional mauve-text package (GPL-3.0): pip install textgan[mauve]") from None
    if sample_features.dim() != 2 or reference_features.dim() != 2 or \
            sample_features.size(1) != reference_features.size(1):
        raise ValueError(f"mauve_score needs (N, D) and (M, D) features, got {tuple(sample_features.shape)} and "
                         f"{tuple(reference_features.shape)}")
    p = sample_features.detach().cpu().double().numpy()  # (N, D)
    q = reference_features.detach().cpu().double().numpy()  # (M, D)
    with threadpool_limits(limits=threads):
        out = mauve.compute_mauve(p_features=p, q_features=q, seed=seed, kmeans_num_redo=kmeans_num_redo,
                                  kmeans_max_iter=kmeans_max_iter, verbose=False)
    return {"mauve": float(out.mauve), "mauve_samples": p.shape[0], "mauve_references": q.shape[0],
            "mauve_buckets": int(out.num_buckets)}
