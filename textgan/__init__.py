"""textgan: adversarial text generation in PyTorch (SeqGAN-style REINFORCE, Gumbel-softmax, professor forcing).

The public API, for scripts as much as for the `textgan` command:

    import textgan
    gen = textgan.load("runs/quickstart")                    # a run directory or a checkpoint file
    print(gen.sample(5, temperature=0.8, seed=1), gen.score(["a man riding a horse ."]))

    textgan.train("oracle_quick", ["run.dir=runs/mine"])    # MLE, D pretraining, adversarial rounds
    run = textgan.TrainingRun.open(textgan.config("oracle_quick"))   # or phase by phase

Building blocks for research code: the generator and discriminator, the `Estimator` Protocol and its registry,
the GAN losses and the policy-gradient helper, the training loops with their schedules, the metrics.
"""

from textgan.api.builders import (
    PreparedData,
    build_cnn,
    build_data,
    build_discriminator,
    build_estimator,
    build_generator,
    make_estimator,
    resolve_device,
)
from textgan.api.configs import config
from textgan.api.run import TrainingRun, pretrain, train
from textgan.api.scoring import MODEL_METRICS, Scorer, evaluate
from textgan.api.trained import TrainedGenerator, load
from textgan.config import DISCRIMINATOR_PRESETS, Config, DiscriminatorConfig, opt
from textgan.data.batching import TokenBatch, TokenData, encode_lines
from textgan.data.tokenizers import SentencePieceTokenizer, WordTokenizer
from textgan.errors import UserError
from textgan.estimators import losses
from textgan.estimators.interface import DiscriminatorShelf, Estimator, EstimatorContext
from textgan.estimators.policy_gradient import Baseline, policy_gradient_loss
from textgan.estimators.registry import ESTIMATORS
from textgan.evaluation.bleu import self_bleu, test_bleu
from textgan.evaluation.nll import nll_oracle
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.generator import RNNGenerator
from textgan.training.adversarial import pretrain_discriminator, train_adversarial
from textgan.training.context import Hooks, Models, Runtime
from textgan.training.mle import evaluate_nll, mle_loss, train_mle
from textgan.training.schedules import (
    AdversarialSchedule,
    DiscriminatorSchedule,
    MLEProgress,
    MLESchedule,
    RoundProgress,
)

__version__ = "0.2.0"

__all__ = [
    "AdversarialSchedule", "Baseline", "CNNDiscriminator", "Config", "DISCRIMINATOR_PRESETS", "DiscriminatorConfig",
    "DiscriminatorSchedule", "DiscriminatorShelf", "ESTIMATORS", "Estimator", "EstimatorContext", "Hooks",
    "MLEProgress", "MLESchedule", "MODEL_METRICS", "Models", "PreparedData", "RNNGenerator", "RoundProgress",
    "Runtime", "Scorer", "SentencePieceTokenizer", "TokenBatch", "TokenData", "TrainedGenerator", "TrainingRun",
    "UserError", "WordTokenizer", "__version__", "build_cnn", "build_data", "build_discriminator",
    "build_estimator", "build_generator", "config", "encode_lines", "evaluate", "evaluate_nll", "load", "losses",
    "make_estimator", "mle_loss", "nll_oracle", "opt", "policy_gradient_loss", "pretrain", "pretrain_discriminator",
    "resolve_device", "self_bleu", "test_bleu", "train", "train_adversarial", "train_mle",
]
