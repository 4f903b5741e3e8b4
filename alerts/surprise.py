"""Tail probabilities for the detector's surprise test, vectorised with numpy (no scipy).

The detector asks one question per window: *given what this key normally gets, how unlikely is at least this much
negative news?* Its model is gamma-Poisson: the number of negative stories in a window is Poisson with mean
``rate * exposure``, and the rate itself is uncertain, Gamma(``shape``, ``rate_scale``) from the key's history
(and a prior). The predictive count is then negative binomial, whose upper tail is a regularised incomplete beta
function::

    P(X >= k) = I_x(k, shape),   x = exposure / (rate_scale + exposure)

``exposure`` is the window's own volume for the share test (so a busy day with the usual share is not a surprise)
or the volume expected at that hour of the day for the count test (so a surge of negative stories is). The
negative-binomial form is the usual approximation of the beta-binomial when shares are small, and is conservative
(wider) when they are not. Counts are novelty-weighted, so ``k`` need not be an integer: ``I_x(k, r)`` is the
continuous extension. Results are returned as ``-log10 P`` ("surprise"): 4 means a one-in-ten-thousand window.

Everything here is a pure function of its arrays, so the live detector, a replay and the backtest compute the
same numbers bit for bit on the same machine.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

_LANCZOS_G = 7.0
_LANCZOS = (
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
)
_EPS = 1e-15
_TINY = 1e-300
MAX_ITERATIONS = 2000
LN10 = math.log(10.0)
MAX_SURPRISE = 300.0  # -log10 of the smallest double; a window can't be more surprising than this


def lgamma(x: ArrayLike) -> NDArray[np.float64]:
    """``log Gamma(x)`` for ``x > 0`` (Lanczos, g=7, n=9: about 15 significant digits)."""
    x = np.asarray(x, dtype=np.float64)
    small = x < 0.5
    # reflection for small arguments: Gamma(x) Gamma(1 - x) = pi / sin(pi x)
    z = np.where(small, 1.0 - x, x) - 1.0
    series = np.full_like(z, _LANCZOS[0])
    for i, coefficient in enumerate(_LANCZOS[1:], 1):
        series = series + coefficient / (z + i)
    t = z + _LANCZOS_G + 0.5
    big = 0.5 * math.log(2 * math.pi) + (z + 0.5) * np.log(t) - t + np.log(series)
    with np.errstate(divide="ignore", invalid="ignore"):
        reflected = math.log(math.pi) - np.log(np.abs(np.sin(math.pi * x))) - big
    return np.where(small, reflected, big)


def _betacf(a: NDArray[np.float64], b: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Continued fraction of the incomplete beta (modified Lentz), elementwise; an element leaves the working set
    once it converged, so a few slow elements never make the whole array iterate (and each element's result does
    not depend on its neighbours)."""
    out = np.empty_like(x)
    idx = np.arange(x.size)
    a, b, x = a.ravel(), b.ravel(), x.ravel()
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < _TINY, _TINY, d)
    d = 1.0 / d
    h = d.copy()
    for m in range(1, MAX_ITERATIONS + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < _TINY, _TINY, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        d = 1.0 / d
        h = h * d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < _TINY, _TINY, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        d = 1.0 / d
        delta = d * c
        h = h * delta
        done = np.abs(delta - 1.0) <= _EPS
        if done.any():
            out[idx[done]] = h[done]
            keep = ~done
            idx = idx[keep]
            a, b, x, qab, qap, qam, c, d, h = (v[keep] for v in (a, b, x, qab, qap, qam, c, d, h))
            if not idx.size:
                return out
    out[idx] = h
    return out


def log_betainc(a: ArrayLike, b: ArrayLike, x: ArrayLike) -> NDArray[np.float64]:
    """Natural log of the regularised incomplete beta ``I_x(a, b)``, for ``a, b > 0`` and ``0 <= x <= 1``.

    Accurate in the far lower tail (where it is tiny), which is where the detector's p-values live."""
    a, b, x = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, x)))
    out = np.zeros(a.shape)
    if out.size == 0:
        return out
    zero, one = x <= 0.0, x >= 1.0
    inner = ~(zero | one)
    direct = inner & (x < (a + 1.0) / (a + b + 2.0))
    swapped = inner & ~direct
    out[zero] = -np.inf
    out[one] = 0.0
    lbeta = lgamma(a) + lgamma(b) - lgamma(a + b)
    if direct.any():
        aa, bb, xx = a[direct], b[direct], x[direct]
        front = aa * np.log(xx) + bb * np.log1p(-xx) - lbeta[direct] - np.log(aa)
        out[direct] = front + np.log(_betacf(aa, bb, xx))
    if swapped.any():
        aa, bb, xx = b[swapped], a[swapped], 1.0 - x[swapped]
        front = aa * np.log(xx) + bb * np.log1p(-xx) - lbeta[swapped] - np.log(aa)
        complement = np.exp(front + np.log(_betacf(aa, bb, xx)))
        out[swapped] = np.log(np.clip(1.0 - complement, _TINY, 1.0))
    return out


def nb_surprise(count: ArrayLike, shape: ArrayLike, rate_scale: ArrayLike, exposure: ArrayLike) -> NDArray[np.float64]:
    """``-log10 P(X >= count)`` for ``X ~ Poisson(lambda * exposure)``, ``lambda ~ Gamma(shape, rate_scale)``.

    ``count <= 0`` gives 0 (at least nothing is certain); ``exposure <= 0`` with a positive count gives
    :data:`MAX_SURPRISE` (nothing was expected at all)."""
    k, r, beta, t = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (count, shape, rate_scale,
                                                                                    exposure)))
    out = np.zeros(k.shape)
    if out.size == 0:
        return out
    positive = k > 0
    nothing_expected = positive & (t <= 0)
    out[nothing_expected] = MAX_SURPRISE
    live = positive & ~nothing_expected
    if live.any():
        x = t[live] / (beta[live] + t[live])
        out[live] = -log_betainc(k[live], r[live], x) / LN10
    return np.clip(out, 0.0, MAX_SURPRISE)


def nb_expected(shape: ArrayLike, rate_scale: ArrayLike, exposure: ArrayLike) -> NDArray[np.float64]:
    """The predictive mean ``shape / rate_scale * exposure`` (what the key 'normally' gets in that window)."""
    return np.asarray(shape, dtype=np.float64) / np.asarray(rate_scale, dtype=np.float64) * np.asarray(
        exposure, dtype=np.float64)


def surprise_to_z(surprise: float) -> float:
    """The one-sided normal z-score with the same tail probability (for the alert's ``zscore`` field)."""
    from statistics import NormalDist

    p = 10.0 ** -min(surprise, MAX_SURPRISE)
    if p >= 0.5:
        return 0.0
    return -NormalDist().inv_cdf(max(p, 1e-300))
