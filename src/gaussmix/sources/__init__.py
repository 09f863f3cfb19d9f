"""Where the E-step's data come from (being split into a package)."""

from gaussmix.sources.array import ArraySource, StatsSource, ThreadTuner

__all__ = ["ArraySource", "StatsSource", "ThreadTuner"]
