"""Feature matching: the generator matches the set of D's sentence features of its samples to the real ones'.

TextGAN (Zhang et al. 2017, ICML "Adversarial Feature Matching for Text Generation") minimises MMD^2
between the CNN discriminator's features f of real and generated sentences; FM-GAN (Chen et al. 2018, NeurIPS
"Adversarial Text Generation via Feature-Mover's Distance") minimises the optimal-transport distance
between them with cosine cost. The features are `CNNDiscriminator.features`: the max-pooled convolutions after
ReLU and the highway layer, before dropout and the output layer (TextGAN's f is the pooled layer the classifier
reads). Distances and their estimators: `estimators/set_distances.py`.

The generator's sample reaches D through a differentiable path: a Gumbel-softmax sample at a constant inverse
temperature `beta` (`estimators/gumbel_sampling.py`), relaxed ("soft": D reads s_t; at large beta close to
TextGAN's soft-argmax) or straight-through (D reads one-hots, the backward pass the relaxation's). The sample is
drawn through the possibly-wrapped generator's forward, with gradient (TextBox's TextGAN re-implementation draws
it under no_grad, so no matching gradient reaches its generator; tests/estimators/test_feature_matching.py
checks that ours does); D's parameters are frozen in the generator loss.

    G loss:  distance(f(one_hot(real)), f(sample))          mmd: MMD^2 (biased or unbiased); fmd: <T, C>
    D loss:  the run's GAN loss on real one-hots vs fresh relaxed samples, exactly the Gumbel-softmax
             estimator's (`estimators/gumbel.py`, + a WGAN-GP term for wgan-gp), so its features stay
             discriminative (TextGAN trains D as a classifier too; its reconstruction terms are not used).

Labelled data with a conditional D (`discriminator.conditional`): D's loss is the Gumbel-softmax estimator's
conditional one, and the generator matches each class's features of its samples to that class's real ones.

DDP: the set distance is computed per rank on that rank's batch and the gradients are averaged, so K ranks of
batch b optimise the mean of K distances between b-sets, not the distance between Kb-sets (both are consistent
estimates of the same population distance; MMD^2's unbiased estimate is unbiased either way, the b-set OT
distance is larger than the Kb-set one for the same distributions). Compare runs at equal per-rank batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from textgan.config import opt
from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import BOS_ID, PAD_ID
from textgan.estimators.gumbel import GumbelOptions, GumbelSoftmax, one_hot_batch
from textgan.estimators.gumbel_sampling import GumbelArgs, GumbelMode, GumbelSample, gumbel_sample
from textgan.estimators.interface import DiscriminatorShelf, EstimatorContext, Logs
from textgan.estimators.set_distances import MmdEstimator, OtSolver, feature_movers_distance, mmd2
from textgan.models.wrapping import frozen, unwrap


@dataclass
class FeatureMatchingOptions:
    distance: Literal["mmd", "fmd"] = opt("mmd", "MMD^2 with Gaussian kernels (TextGAN) or the feature mover's "
                                                 "distance (FM-GAN)")
    mode: GumbelMode = opt("soft", "D reads the relaxed sample or its one-hot (straight-through)")
    beta: float = opt(100.0, "inverse temperature of the Gumbel-softmax relaxation (constant)", min=1)
    mmd_estimator: MmdEstimator = opt("unbiased", "MMD^2 estimate: unbiased (U-statistic) or biased (V)")
    bandwidth_scales: list[float] = opt([0.25, 0.5, 1.0, 2.0, 4.0], "mmd: Gaussian kernel bandwidths sigma as "
                                        "multiples of the median-heuristic sigma (see estimators/set_distances.py)")
    ot_solver: OtSolver = opt("ipot", "fmd: IPOT (exact cost) or Sinkhorn (entropic)")
    ot_iterations: int = opt(100, "fmd: solver iterations", min=1)
    ot_regulariser: float = opt(0.5, "fmd: IPOT's proximal beta or Sinkhorn's epsilon", gt=0)
    gp_weight: float = opt(10.0, "gradient-penalty lambda of D for gan_loss=wgan-gp", min=0)

    def __post_init__(self) -> None:
        if not self.bandwidth_scales or any(s <= 0 for s in self.bandwidth_scales):
            raise ValueError(f"bandwidth_scales must be positive numbers, got {self.bandwidth_scales}")


class FeatureMatching:
    """TextGAN / FM-GAN: the generator minimises a distance between real and fake sets of D's features."""

    Options: ClassVar[type] = FeatureMatchingOptions
    pretrains_discriminator: ClassVar[bool] = True
    token_fakes: ClassVar[bool] = False  # its D reads soft samples or hidden states

    def __init__(self, options: FeatureMatchingOptions, context: EstimatorContext) -> None:
        self.options, self.max_len, self.conditional = options, context.max_len, context.conditional
        # D's loss and fresh samples: the Gumbel-softmax estimator's, at this constant beta
        self.adversary = GumbelSoftmax(GumbelOptions(mode=options.mode, schedule="constant", beta_max=options.beta,
                                                     gp_weight=options.gp_weight), context)

    def build_discriminator(self, shelf: DiscriminatorShelf) -> nn.Module:
        return shelf.cnn("distributions")

    def prepare_generator_step(self, generator: nn.Module, step: int) -> None:
        pass  # stateless

    def sample(self, generator: nn.Module, batch_size: int, device: torch.device,
               noise: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> GumbelSample:
        """A differentiable sample through `generator`'s forward, each row of its class in `labels` (B,);
        `noise` (B, max_len, V) fixes the Gumbel draws."""
        bos = torch.full((batch_size, 1), BOS_ID, dtype=torch.long, device=device)  # (B, 1)
        args = GumbelArgs(beta=self.options.beta, max_len=self.max_len, mode=self.options.mode, noise=noise)
        return generator(bos, routine=partial(gumbel_sample, args=args, labels=labels))

    def distance(self, real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
        """The configured set distance between feature sets (B_r, F) and (B_f, F)."""
        o = self.options
        if o.distance == "mmd":
            return mmd2(real_features, fake_features, scales=tuple(o.bandwidth_scales), estimator=o.mmd_estimator)
        return feature_movers_distance(real_features, fake_features, solver=o.ot_solver, iterations=o.ot_iterations,
                                       regulariser=o.ot_regulariser)

    def matching_loss(self, discriminator: nn.Module, real: TokenBatch, fake: GumbelSample) -> torch.Tensor:
        """distance(D features of real one-hots, D features of the sample); gradients reach the sample only. With
        a conditional D (fakes drawn for the real rows' classes) the class-conditional feature sets are matched:
        sum over classes c of (n_c / B) distance(real of c, fake of c), over the classes with >= 2 rows (the whole
        batch if none has)."""
        d = unwrap(discriminator)
        with frozen(d):
            fake_features = d.features(fake.distributions)  # (B, F)
            with torch.no_grad():
                real_features = d.features(one_hot_batch(real, fake.distributions.size(-1),
                                                         fake.distributions.dtype))  # (B, F)
        if self.conditional == "none" or real.labels is None:
            return self.distance(real_features, fake_features)
        classes, counts = real.labels.unique(return_counts=True)
        parts = [(int(n) / real.labels.numel()) * self.distance(real_features[real.labels == c],
                                                                 fake_features[real.labels == c])
                 for c, n in zip(classes.tolist(), counts.tolist()) if n >= 2]
        return torch.stack(parts).sum() if parts else self.distance(real_features, fake_features)

    def generator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                       step: int) -> tuple[torch.Tensor, Logs]:
        fake = self.sample(generator, real.tokens.size(0), real.tokens.device, labels=real.labels)  # via the wrapper
        loss = self.matching_loss(discriminator, real, fake)
        live = fake.tokens != PAD_ID
        return loss, {"g_loss": float(loss.detach()), "soft_peak": float(fake.soft.detach().amax(-1)[live].mean()),
                      "sample_len": float(fake.lengths.float().mean())}

    def discriminator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                           step: int) -> tuple[torch.Tensor, Logs]:
        return self.adversary.discriminator_loss(generator, discriminator, real, step)

    def state_dict(self) -> dict[str, Any]:
        return {}  # stateless

    def load_state_dict(self, state: dict[str, Any], generator: nn.Module) -> None:
        pass
