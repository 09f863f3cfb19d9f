"""Frozen parameters: which parameters EM keeps at their initial values.

``GaussianMixture(frozen=...)`` names any of ``"weights"``, ``"means"`` and
``"covariances"``. EM then keeps those at the values it started from (given
with ``weights_init`` / ``means_init`` / ``precisions_init``, or the previous
fit with ``warm_start=True``), and the others take their *conditional*
M-step: the exact maximiser of the expected complete-data log-likelihood
given the frozen ones (:func:`gaussmix.core.mstep.m_step`, ``frozen=``):

* the weights are ``n_k / N`` whatever the means and covariances;
* the means are ``xbar_k`` whatever the covariances (with mclust's prior,
  its shrunk means, which do not depend on the covariances either);
* the covariances are the family's M-step (constraints included) of the
  scatter about the *frozen* means, ``sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T``,
  not about ``xbar_k``: the statistics are centred on a shift ``c``, and the
  scatter about any point ``c + d_k`` is ``S_k - s_k d_k^T - d_k s_k^T +
  n_k d_k d_k^T``, which every family's estimate computes from ``d_k``.

Each M-step is then a conditional maximisation, so the log-likelihood (the
log-posterior with a prior) never decreases. Frozen covariances keep their
precision factors bit for bit, and an iterative family (mclust's VEI, VEV,
VEE, EVE, VVE) runs no inner iteration.

Where the initial values come from (:func:`check_frozen_start`): frozen
weights without ``weights_init`` keep the weights of the initialisation
(``init_params``, per start), since a start's proportions are a reasonable
value to hold (and ``weights_init`` says which, when it matters). Frozen means
or covariances need ``means_init`` / ``precisions_init`` or a warm start:
those of an initialisation are a random clustering's, and holding them is
almost certainly a mistake, so it is refused with a message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

__all__ = ["FREEZABLE", "as_frozen", "check_frozen_start", "is_frozen_value"]

#: The parameters that ``frozen`` may name, in this order.
FREEZABLE: Final = ("weights", "means", "covariances")


def is_frozen_value(value: Any) -> bool:
    """Whether ``value`` is a valid ``frozen``: a name or an iterable of names."""
    try:
        as_frozen(value)
    except ValueError:
        return False
    return True


def as_frozen(value: Any) -> frozenset[str]:
    """``frozen`` as a set of names: a string is one name, an iterable several.

    Parameters
    ----------
    value : str or iterable of str
        Some of :data:`FREEZABLE`; ``()`` or ``None`` freezes nothing.

    Returns
    -------
    frozenset of str

    Raises
    ------
    ValueError
        For a name that is not one of :data:`FREEZABLE`, or a value that is
        neither a string nor an iterable of strings.
    """
    if value is None:
        return frozenset()
    items: Iterable[Any]
    if isinstance(value, str):
        items = (value,)
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, dict)):
        items = tuple(value)
    else:
        raise ValueError(
            f"frozen must be a name or a tuple of names among {FREEZABLE}; got "
            f"{value!r}."
        )
    unknown = [v for v in items if not (isinstance(v, str) and v in FREEZABLE)]
    if unknown:
        raise ValueError(
            f"frozen may name only {', '.join(repr(n) for n in FREEZABLE)}; got "
            f"unknown {unknown!r}. (The covariances are frozen as a whole, with "
            "their precisions.)"
        )
    return frozenset(items)


def check_frozen_start(
    frozen: frozenset[str],
    *,
    means_given: bool,
    covariances_given: bool,
    equal_proportions: bool,
    owner: str,
) -> None:
    """Refuse frozen parameters that would have no initial value to keep.

    Parameters
    ----------
    frozen : frozenset of str
        The frozen names (:func:`as_frozen`).
    means_given, covariances_given : bool
        Whether the start's means (``means_init`` or a warm start) and
        covariances (``precisions_init`` or a warm start) are given.
    equal_proportions : bool
        mclust's ``equalPro``, which fixes the weights itself.
    owner : str
        The estimator's name, for messages.

    Raises
    ------
    ValueError
        Frozen means without ``means_init``, frozen covariances without
        ``precisions_init`` (and no warm start), or frozen weights together
        with ``equal_proportions``.
    """
    if "means" in frozen and not means_given:
        raise ValueError(
            f"{owner}: frozen means keep their initial values, but no means_init "
            "was given (and there is no previous fit to warm-start from). The "
            "means of an initialisation are a random clustering's; pass "
            "means_init=..., or fit once and refit with warm_start=True."
        )
    if "covariances" in frozen and not covariances_given:
        raise ValueError(
            f"{owner}: frozen covariances keep their initial values, but no "
            "precisions_init was given (and there is no previous fit to "
            "warm-start from). Pass precisions_init=... (inverse covariances), "
            "or fit once and refit with warm_start=True."
        )
    if "weights" in frozen and equal_proportions:
        raise ValueError(
            f"{owner}: frozen weights and equal_proportions=True both fix the "
            "weights; use one of them (weights_init=np.full(K, 1 / K) with "
            "frozen='weights' is equal_proportions)."
        )
