"""The estimator registry: a literal dict; the CLI's choices come from it, the loop never branches on names.

Each estimator's options live in the config section of the same name (`reinforce:`, `gumbel:`, ...).
"""

from __future__ import annotations

from textgan.estimators.gumbel import GumbelSoftmax
from textgan.estimators.professor import ProfessorForcing
from textgan.estimators.reinforce import Reinforce

ESTIMATORS: dict[str, type] = {
    "reinforce": Reinforce,
    "gumbel": GumbelSoftmax,
    "professor": ProfessorForcing,
}
