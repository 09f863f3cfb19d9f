"""Applications of Gaussian mixtures, each a small module on the estimator.

* :mod:`gaussmix.apps.segmentation` — image segmentation by colour and position;
* :mod:`gaussmix.apps.background` — per-pixel adaptive background model for video;
* :mod:`gaussmix.apps.speaker` — GMM-UBM speaker recognition;
* :mod:`gaussmix.apps.anomaly` — calibrated anomaly scores and thresholds;
* :mod:`gaussmix.apps.peaks` — decomposing a curve into Gaussian peaks.

The modules are imported on demand (``from gaussmix.apps import segmentation``).
"""
