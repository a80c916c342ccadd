"""Float update rules of one layer, by registry name, and :func:`make_rule` to build one.

Every rule follows :class:`golden.rules.base.UpdateRule`: it consumes a batch of
``(x_j, delta_j)`` pairs as a stream and returns a factored approximation of the mean batch
gradient, keeping its own state between batches (warm start).

==============  ===========================================================  ====================
name            what one batch update is                                     ``matrix_updates``
==============  ===========================================================  ====================
``sgd``         the ``B`` per-sample outer products                          ``B``
``mbgd``        the exact mean gradient (SBE paper's MBGD2)                  see ``count``
``svd``         rank-``k`` truncated SVD of the mean gradient                ``k``
``sbe``         rank-1 streaming batch eigenupdate (SBE paper)               1
``sbpca``       rank-``k`` streaming batch PCA, SBPCA/SBPCAV + hw options    ``k``
``rbd``         ``G`` restricted to ``d`` fresh random directions            ``d`` (rank-1 basis)
``fpd``         as ``rbd`` with directions fixed at construction             ``d`` (rank-1 basis)
``powersgd``    one warm-started power step (+ error feedback)               ``k``
``fd``          Co-occurring Directions sketch, top-``k``                    ``k``
``gc``          Gradient Clustering: stratified one-per-cluster estimate     clusters used
==============  ===========================================================  ====================

Options are keyword arguments of :func:`make_rule`; an unknown rule, an unknown option or a bad
value raises ``ValueError("option=value: reason")``.
"""

from __future__ import annotations

import inspect

import numpy as np

from .base import Cost, LowRankUpdate, UpdateRule
from .baseline_full import MBGD, SGD, SVD
from .clustering import GradientClustering
from .powersgd import PowerSGD
from .randomized import FPD, RBD
from .sbe import SBE
from .sbpca import SBPCA
from .sketch import CoDirections

__all__ = ["RULES", "make_rule", "rule_options", "UpdateRule", "LowRankUpdate", "Cost"]

#: Registry: rule name -> rule class.
RULES: dict[str, type[UpdateRule]] = {
    cls.name: cls for cls in (SGD, MBGD, SVD, SBE, SBPCA, RBD, FPD, PowerSGD, CoDirections,
                              GradientClustering)}


def rule_options(name: str) -> dict:
    """Return ``{option: default}`` of the rule registered as ``name``."""
    if name not in RULES:
        raise ValueError(f"name={name!r}: unknown rule; choose from {', '.join(sorted(RULES))}")
    params = inspect.signature(RULES[name].__init__).parameters
    return {p.name: p.default for p in params.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "rng"}


def make_rule(name: str, n_in: int, n_out: int, *, rng: np.random.Generator | None = None,
              **options) -> UpdateRule:
    """Build the rule registered as ``name`` for a layer of ``n_in`` inputs and ``n_out`` outputs.

    Parameters
    ----------
    name : str
        A key of :data:`RULES`.
    n_in, n_out : int
        Layer sizes (``W`` is ``(n_out, n_in)``).
    rng : numpy.random.Generator, optional
        Source of the rule's randomness; ``numpy.random.default_rng(0)`` when omitted.
    **options
        The rule's options (see :func:`rule_options` and each rule's docstring).

    Raises
    ------
    TypeError, ValueError
        ``"option=value: reason"`` (:mod:`golden.check`): ``ValueError`` for an unknown rule
        name, an option the rule does not have or a bad option value, ``TypeError`` for an
        option of the wrong type.
    """
    known = rule_options(name)
    for key, value in options.items():
        if key not in known:
            raise ValueError(f"{key}={value!r}: not an option of rule {name!r} "
                             f"(options: {', '.join(known) or 'none'})")
    if rng is None:
        rng = np.random.default_rng(0)
    return RULES[name](n_in, n_out, rng=rng, **options)
