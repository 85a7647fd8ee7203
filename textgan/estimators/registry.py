"""The estimator registry: a literal dict; the CLI's choices and the config's estimator sections come from it,
the loop never branches on names. A new estimator is one file and one line here (or `ESTIMATORS[name] = Cls`
in a script); its options live in the config section named like its key."""

from __future__ import annotations

from textgan.config_io import check_options
from textgan.errors import UserError
from textgan.estimators.cot import CooperativeTraining
from textgan.estimators.dense_reinforce import DenseReinforce
from textgan.estimators.feature_matching import FeatureMatching
from textgan.estimators.gumbel import GumbelSoftmax
from textgan.estimators.interface import Estimator, EstimatorContext
from textgan.estimators.losses import check_label_smoothing
from textgan.estimators.professor import ProfessorForcing
from textgan.estimators.reinforce import Reinforce

ESTIMATORS: dict[str, type[Estimator]] = {
    "reinforce": Reinforce,
    "gumbel": GumbelSoftmax,
    "professor": ProfessorForcing,
    "dense_reinforce": DenseReinforce,
    "cot": CooperativeTraining,
    "feature_matching": FeatureMatching,
}


def option_sections() -> dict[str, type]:
    """{config section: options dataclass} of every registered estimator."""
    return {name: cls.Options for name, cls in ESTIMATORS.items()}


def build_estimator(name: str, options: object | None, context: EstimatorContext) -> Estimator:
    """The registered estimator `name` from its options (None: the defaults) and the run's context; a one-line
    UserError for an unknown name or options its constructor refuses."""
    if name not in ESTIMATORS:
        raise UserError(f"unknown estimator {name!r}; registered: {', '.join(ESTIMATORS)}")
    cls = ESTIMATORS[name]
    options = options if options is not None else cls.Options()
    if not isinstance(options, cls.Options):
        raise UserError(f"{name} estimator: options must be a {cls.Options.__name__}, got {type(options).__name__}")
    check_options(options, name)
    try:
        check_label_smoothing(context.gan_loss, context.label_smoothing)  # type: ignore[arg-type]
        return cls(options, context)  # type: ignore[call-arg]
    except ValueError as err:
        raise UserError(f"{name} estimator: {err}") from None
