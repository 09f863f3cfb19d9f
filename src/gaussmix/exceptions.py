"""Warnings and errors raised by gaussmix.

Hierarchy::

    UserWarning
     +-- DegenerateComponentWarning   a component was repaired during a fit
    sklearn.exceptions.ConvergenceWarning (re-exported)  EM stopped at max_iter
    ValueError
     +-- gaussmix.core.estep.LogDensityOverflowError      data too large for the model
"""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning

__all__ = ["ConvergenceWarning", "DegenerateComponentWarning"]


class DegenerateComponentWarning(UserWarning):
    """A component collapsed or emptied during EM and was repaired.

    The message names the component and what was done: an empty component is
    re-seeded by splitting the widest component; a singular covariance gets a
    small multiple of the data variance added to its diagonal. The fit goes on
    and its parameters are finite.
    """
