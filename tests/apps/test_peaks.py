"""gaussmix.apps.peaks: Gaussian peaks by weighted EM, baseline, BIC, bad input."""

import math
import warnings

import numpy as np
import pytest

from gaussmix.apps.peaks import Peak, PeakFitWarning, fit_peaks, initial_peaks

SQRT_2PI = math.sqrt(2 * math.pi)


def gauss(x, center, sigma, area):
    return area / (sigma * SQRT_2PI) * np.exp(-0.5 * ((x - center) / sigma) ** 2)


def spectrum(seed, baseline=5.0):
    """Poisson counts on 500 channels of [0, 100]: four peaks (two overlapping)
    over a flat baseline of ``baseline`` counts per channel."""
    x = np.linspace(0, 100, 500)
    dx = x[1] - x[0]
    truth = [(20, 2, 2000), (45, 3, 3000), (50, 2, 1500), (80, 4, 4000)]  # counts
    lam = baseline + sum(gauss(x, c, s, a) for c, s, a in truth) * dx
    y = np.random.default_rng(seed).poisson(lam).astype(float)
    return x, y, truth, dx


def em_with_uniform(x, w, mean, var, pi, pi0, span, reg, n_iter=5000, tol=1e-12):
    """Independent reference: EM for K 1-D Gaussians plus a uniform 1/span."""
    n = w.sum()
    previous = -np.inf
    for _ in range(n_iter):
        log_comp = np.log(pi) - 0.5 * (
            np.log(2 * np.pi * var) + (x[:, None] - mean) ** 2 / var
        )
        log_noise = np.log(pi0) - np.log(span)
        log_total = np.logaddexp(np.logaddexp.reduce(log_comp, axis=1), log_noise)
        loglik = log_total @ w
        if abs(loglik - previous) < tol * n:
            break
        previous = loglik
        resp = np.exp(log_comp - log_total[:, None]) * w[:, None]
        nk = resp.sum(axis=0)
        pi0 = (np.exp(log_noise - log_total) @ w) / n
        pi = nk / n
        mean = (resp * x[:, None]).sum(axis=0) / nk
        var = (resp * (x[:, None] - mean) ** 2).sum(axis=0) / nk + reg
    return mean, var, pi, pi0, loglik


# ----------------------------------------------------------------- noise-free
def test_one_noise_free_peak_is_exact():
    x = np.linspace(-10, 10, 2001)
    y = gauss(x, 1.5, 0.8, 7.0)
    result = fit_peaks(x, y * 1000, n_peaks=1, baseline=False)
    (peak,) = result.peaks
    assert peak.center == pytest.approx(1.5, abs=1e-9)
    assert peak.sigma == pytest.approx(0.8, rel=1e-6)
    assert peak.area == pytest.approx(7000.0, rel=1e-6)
    assert peak.amplitude == pytest.approx(7000.0 / (0.8 * SQRT_2PI), rel=1e-6)
    assert peak.fwhm == pytest.approx(2 * math.sqrt(2 * math.log(2)) * 0.8, rel=1e-6)
    assert result.baseline == 0.0
    assert result.converged
    np.testing.assert_allclose(result.curve(x), y * 1000, atol=1e-5 * y.max() * 1000)


def test_two_peaks_on_an_uneven_unsorted_grid():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 14, 1500))
    y = gauss(x, 3, 0.4, 30) + gauss(x, 7, 1.0, 25)
    shuffle = rng.permutation(x.size)
    result = fit_peaks(x[shuffle], y[shuffle] * 100, n_peaks=2, baseline=False)
    got = [(p.center, p.sigma, p.area / 100) for p in result.peaks]
    # Sample widths dx_i weight each sample: the Riemann sum of an uneven grid
    # is accurate to about 1e-3 here.
    np.testing.assert_allclose(got, [(3, 0.4, 30), (7, 1.0, 25)], rtol=3e-3)


def test_scale_of_y_changes_areas_not_shapes():
    x, y, _, _ = spectrum(1)
    a = fit_peaks(x, y, n_peaks=4, baseline=True)
    b = fit_peaks(x, 10 * y, n_peaks=4, baseline=True)
    for p, q in zip(a.peaks, b.peaks, strict=True):
        assert q.center == pytest.approx(p.center, rel=1e-6)
        assert q.sigma == pytest.approx(p.sigma, rel=1e-6)
        assert q.area == pytest.approx(10 * p.area, rel=1e-6)
    assert b.baseline == pytest.approx(10 * a.baseline, rel=1e-6)
    # BIC counts sum(y) events unless told: 10x the "events", a different BIC.
    assert b.sample_size == pytest.approx(10 * a.sample_size)
    c = fit_peaks(x, 10 * y, n_peaks=4, baseline=True, sample_size=a.sample_size)
    assert c.bic == pytest.approx(a.bic, rel=1e-9)


# ------------------------------------------------------------- noisy spectra
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spectrum_with_baseline(seed):
    x, y, truth, dx = spectrum(seed)
    result = fit_peaks(x, y, baseline=True)
    assert result.n_peaks == 4
    assert min(result.bic_by_n_peaks, key=result.bic_by_n_peaks.get) == 4
    assert result.baseline == pytest.approx(5.0, rel=0.1)
    # Spread over 30 random spectra (measured): isolated peaks, centre sd
    # 0.05-0.09, sigma sd 0.04-0.07, area sd 50-58 counts; the overlapping pair
    # at 45/50, centre sd 0.2-0.35 and area sd 280: tolerances of 4 sd.
    (p20, p45, p50, p80) = result.peaks
    for peak, (c, s, a) in ((p20, truth[0]), (p80, truth[3])):
        assert abs(peak.center - c) < 0.4
        assert abs(peak.sigma - s) < 0.3
        assert abs(peak.area / dx - a) < 240
    for peak, (c, _, _) in ((p45, truth[1]), (p50, truth[2])):
        assert abs(peak.center - c) < 1.4
    assert (p45.area + p50.area) / dx == pytest.approx(4500, abs=250)


def test_matches_an_independent_em_with_a_uniform():
    x = np.linspace(0, 100, 500)
    lam = 5 + (
        gauss(x, 20, 2, 2000) + gauss(x, 50, 3, 3000) + gauss(x, 75, 4, 4000)
    ) * (x[1] - x[0])
    y = np.random.default_rng(3).poisson(lam).astype(float)
    result = fit_peaks(x, y, n_peaks=3, baseline=True, tol=1e-12, max_iter=20000)
    dx = x[1] - x[0]
    w = y * np.r_[dx / 2, np.full(x.size - 2, dx), dx / 2]
    w *= y.sum() / w.sum()
    start = np.array([(p.center, p.sigma**2) for p in result.peaks])
    reg = dx**2 / 12
    mean, var, pi, pi0, loglik = em_with_uniform(
        x,
        w,
        start[:, 0] + 0.5,  # perturbed start, the same optimum
        start[:, 1] * 1.2 + reg,
        np.full(3, 0.2),
        0.2,
        100.0,
        reg,
    )
    np.testing.assert_allclose([p.center for p in result.peaks], mean, atol=1e-4)
    np.testing.assert_allclose([p.sigma**2 for p in result.peaks], var - reg, rtol=1e-4)
    assert result.baseline_weight == pytest.approx(pi0, rel=1e-4)
    assert result.log_likelihood == pytest.approx(loglik, rel=1e-9)
    np.testing.assert_allclose(
        [p.area / result.total_area for p in result.peaks], pi, rtol=1e-4
    )


def test_no_baseline_when_there_is_none():
    x = np.linspace(0, 30, 600)
    y = np.random.default_rng(4).poisson(
        gauss(x, 10, 1.5, 5000) * (x[1] - x[0]) + gauss(x, 18, 1, 3000) * 0.05
    )
    with_baseline = fit_peaks(x, y, n_peaks=2, baseline=True)
    without = fit_peaks(x, y, n_peaks=2, baseline=False)
    assert with_baseline.baseline_weight < 0.005
    for p, q in zip(with_baseline.peaks, without.peaks, strict=True):
        assert p.center == pytest.approx(q.center, abs=0.02)
        assert p.sigma == pytest.approx(q.sigma, rel=0.02)
    assert with_baseline.n_parameters == without.n_parameters + 1 == 6
    assert with_baseline.baseline_fitted
    assert not without.baseline_fitted
    # By default BIC decides: the baseline's extra parameter does not pay here.
    auto = fit_peaks(x, y, n_peaks=2)
    assert not auto.baseline_fitted
    assert auto.baseline == 0.0
    assert auto.bic_by_baseline == {False: without.bic, True: with_baseline.bic}
    assert auto.bic == without.bic < with_baseline.bic


def test_noise_floor_gets_a_baseline_by_default():
    """A positive noise floor fitted without a baseline pulls the peak off.

    One peak at 20 on [0, 50] over 10 counts per channel: without a baseline
    the centre moved by 1.8 (towards the middle of the range) and BIC added
    spurious peaks; the default ("auto") fits both and BIC keeps the baseline.
    """
    x = np.linspace(0, 50, 400)
    lam = 10 + gauss(x, 20, 2, 3000) * (x[1] - x[0])
    y = np.random.default_rng(0).poisson(lam).astype(float)
    without = fit_peaks(x, y, n_peaks=1, baseline=False)
    assert abs(without.peaks[0].center - 20) > 1.0  # the bias the default avoids
    result = fit_peaks(x, y)
    assert result.baseline_fitted
    assert result.n_peaks == 1
    assert result.peaks[0].center == pytest.approx(20, abs=0.15)
    assert result.baseline == pytest.approx(10, rel=0.1)
    assert set(result.bic_by_baseline) == {False, True}
    assert result.bic == result.bic_by_baseline[True] < result.bic_by_baseline[False]
    assert result.n_parameters == 3  # 3 K - 1 + 1


@pytest.mark.parametrize("seed", [0, 1])
def test_default_fit_of_a_spectrum_with_baseline(seed):
    x, y, truth, _ = spectrum(seed)
    result = fit_peaks(x, y)
    assert result.baseline_fitted
    assert result.n_peaks == 4
    for peak, (c, _, _) in zip(result.peaks, truth, strict=True):
        assert abs(peak.center - c) < 1.4


def test_warns_when_sample_size_defaults_on_curves_that_are_not_counts():
    """A spectrum normalised to a maximum of 1 silently lost its doublet."""
    x, y, _, _ = spectrum(0)
    normalised = y / y.max()
    with pytest.warns(PeakFitWarning, match="y are not counts") as record:
        result = fit_peaks(x, normalised)
    message = str(record[0].message)
    assert "the number of peaks and the baseline" in message
    assert "pass sample_size" in message.lower()
    assert result.n_peaks == 3  # what the warning is about: the doublet is lost
    # Told the number of events, BIC finds the doublet again, without warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", PeakFitWarning)
        told = fit_peaks(x, normalised, sample_size=float(y.sum()))
        assert told.n_peaks == 4
        # Nothing left for BIC to choose: no warning either.
        fit_peaks(x, normalised, n_peaks=4, baseline=True)
        # Counts (integers) are what the default assumes.
        fit_peaks(x, y)
    with pytest.warns(PeakFitWarning, match="it chooses the baseline"):
        fit_peaks(x, normalised, n_peaks=4)


def test_a_shoulder_is_found_from_the_residual():
    x = np.linspace(0, 20, 801)
    y = gauss(x, 8, 1.0, 100) + gauss(x, 10, 1.0, 40)  # no local maximum at 10
    assert len(initial_peaks(x, y)) == 1
    result = fit_peaks(x, y * 50, n_peaks=2, baseline=False, tol=1e-13, max_iter=50_000)
    np.testing.assert_allclose(
        [(p.center, p.sigma, p.area / 50) for p in result.peaks],
        [(8, 1, 100), (10, 1, 40)],
        rtol=1e-3,
    )


def test_initial_peaks_most_prominent_first():
    x = np.linspace(0, 10, 1001)
    y = gauss(x, 2, 0.3, 1) + gauss(x, 5, 0.3, 3) + gauss(x, 8, 0.5, 2)
    guesses = initial_peaks(x, y)
    assert [round(g.center, 2) for g in guesses] == [5.0, 8.0, 2.0]
    assert guesses[0].sigma == pytest.approx(0.3, rel=0.05)
    assert guesses[1].sigma == pytest.approx(0.5, rel=0.05)
    assert len(initial_peaks(x, y, max_peaks=2)) == 2
    assert isinstance(guesses[0], Peak)


def test_bic_table_and_choice():
    x, y, _, _ = spectrum(5)
    result = fit_peaks(x, y, baseline=True, max_peaks=6)
    table = result.bic_by_n_peaks
    assert min(table) == 1
    assert result.bic == table[result.n_peaks] == min(table.values())
    fixed = fit_peaks(x, y, n_peaks=3, baseline=True)
    assert list(fixed.bic_by_n_peaks) == [3]
    assert fixed.n_peaks == 3


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("x", "y", "kwargs", "message"),
    [
        ([0, 1, 2], [1, -1, 2], {}, "y must be non-negative"),
        ([0, 1, 2], [1, np.nan, 2], {}, "finite"),
        ([0, 1, 2], [1, 2], {}, "same length"),
        ([0, 1], [1, 2], {}, "at least 3 samples"),
        ([0, 1, 1], [1, 2, 3], {}, "repeated values"),
        ([0, 1, 2], [0, 0, 0], {}, "zero everywhere"),
        ([0, 1, 2], [0.1, 0.2, 0.1], {}, "pass sample_size"),
        ([0, 1, 2], [5, 9, 5], {"n_peaks": 0}, "n_peaks must be a positive"),
        ([0, 1, 2], [5, 9, 5], {"max_peaks": 0}, "max_peaks must be a positive"),
        ([0, 1, 2], [5, 9, 5], {"sample_size": 0.5}, "sample_size must be"),
        ([0, 1, 2], [0, 9, 0], {"n_peaks": 2}, "needs at least as many samples"),
        ([0, 1, 2], [5, 9, 5], {"baseline": "yes"}, "baseline must be"),
        ([0, 1, 2], [5, 9, 5], {"baseline": None}, "baseline must be"),
    ],
)
def test_bad_input(x, y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_peaks(np.asarray(x, float), np.asarray(y, float), **kwargs)


# ------------------------------------------------------ example and benchmark
def load_script(*parts):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2].joinpath(*parts)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_runs_at_small_size(tmp_path, capsys):
    from pathlib import Path

    r = load_script("examples", "12_peak_fitting.py").main(
        ["--small", "--out", str(tmp_path)]
    )
    text = capsys.readouterr().out
    (figure,) = r["figures"]
    assert Path(figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(figure).stat().st_size > 10_000
    assert f"figure written to {figure}" in text
    assert r["n_peaks"] == 4
    assert min(r["bic_by_n_peaks"], key=r["bic_by_n_peaks"].get) == 4
    assert r["baseline"] == pytest.approx(5.0, rel=0.05)
    for (c, s, a), (fc, fs, fa) in zip(r["truth"], r["fitted"], strict=True):
        assert fc == pytest.approx(c, abs=0.3)
        assert fs == pytest.approx(s, rel=0.1)
        assert fa == pytest.approx(a, rel=0.1)
    # Least squares from the same guesses splits the overlapping pair into a
    # huge positive and a huge negative peak (measured areas near +-1e5).
    assert min(area for _, _, area in r["least_squares"]) < 0


def test_benchmark_runs_quick(capsys):
    table = load_script("benchmarks", "bench_peaks.py").main(["--quick"])
    assert "curve_fit" in capsys.readouterr().out
    em = table["gaussmix fit_peaks (EM)"]
    assert em["failed"] == 0.0
    assert em["nonsense"] == 0.0
    assert np.all(em["median_errors"] < 0.1)
    assert table["bic_right"] >= 0.5
