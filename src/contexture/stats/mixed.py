"""Linear mixed models with random intercepts, fitted by REML or ML, and the ICC bootstrap.

The model, for observations j of group i (lesions of a patient),

    y_ij = x_ij' beta + b_i + e_ij,     b_i ~ N(0, s_b^2),  e_ij ~ N(0, s_e^2),

optionally with a second random intercept per subgroup nested in its group
(``+ u_il``, u_il ~ N(0, s_l^2); repeated scans of one lesion).

Engine. :func:`fit_random_intercepts` fits these models by REML or ML with the
*profiled* deviance of Bates et al. (2015, J Stat Softw 67(1), "Fitting linear
mixed-effects models using lme4", sections 3.4-3.5): for given relative variances
gamma = s^2 / s_e^2 the fixed effects and s_e^2 have closed forms, so only the variance
ratios are optimized (lme4's theta = sqrt(gamma)). Because the covariance of a group's
observations is compound-symmetric (or nested compound-symmetric), its inverse and
determinant have closed forms (Woodbury), and every quantity needs only per-group and
per-subgroup sums of X and y. A fit of 100,000 lesions therefore takes milliseconds,
where ``statsmodels.MixedLM`` (which loops over groups in Python) takes ~25 s
(issue 9; ``benchmarks/pet_models.py``). The engine is written by hand for that speed;
``tests/unit/stats/test_mixed.py`` checks it against ``statsmodels.MixedLM`` (the
reference implementation, same estimates to 1e-5) and against the closed-form ANOVA
estimators of a balanced design. R equivalents: ``lme4::lmer(y ~ x + (1 | group))``
(REML) and ``lmer(..., REML = FALSE)`` (ML); nested: ``(1 | group / subgroup)``.

The fixed-effect covariance is the model-based s_e^2 (X' V^-1 X)^-1 at the estimated
variances (:attr:`MixedFit.cov`, R's ``vcov(fit)``). Inference on it is small-sample, as
lmerTest (Kuznetsova, Brockhoff & Christensen 2017, J Stat Softw 82(13)):
:meth:`MixedFit.t_test` gives t intervals and tests with Satterthwaite (1946) degrees of
freedom, :meth:`MixedFit.f_test` F tests with Satterthwaite denominator df (eigen-
decomposition of the contrast, Fai & Cornelius 1996), :func:`sequential_contrasts` the
hypothesis basis of lmerTest's ``anova()`` for a one-term model. Both are computed from
the deviance as a function of lmerTest's variance parameters (theta, sigma)
(:func:`_deviance_at`) by numerical differentiation. Written by hand: statsmodels'
``MixedLM`` reports Wald z only, and no well-kept Python library computes
Satterthwaite (or Kenward-Roger) degrees of freedom; Kenward-Roger is not offered.

ICC = s_b^2 / (s_b^2 + s_e^2) (:attr:`MixedFit.icc`); :func:`bootstrap_icc` gives its
parametric bootstrap (percentile interval, fixed seed): replicates are drawn from the
fitted intercept-only model through its sufficient statistics -- group means
ybar_i ~ N(mu, s_b^2 + s_e^2 / n_i) and the pooled within-group sum of squares
~ s_e^2 chi^2(N - k) -- and refitted by REML, which is exactly a bootstrap of the data.
"""

from __future__ import annotations

__all__ = [
    "FTest",
    "MixedFit",
    "NotEstimable",
    "TTest",
    "bootstrap_icc",
    "fit_random_intercepts",
    "sequential_contrasts",
]

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

# scipy.optimize and scipy.stats are imported where a fit or a test needs them (~0.5 s that
# a job drawing a figure from the fitted tables need not pay; issue 21).


@dataclass(frozen=True)
class _Sums:
    """Sufficient statistics of a (nested) random-intercept model."""

    n_obs: int
    xtx: np.ndarray
    xty: np.ndarray
    yty: float
    group_n: np.ndarray  # observations per patient (k,)
    group_x: np.ndarray  # per-patient column sums of X (k, p)
    group_y: np.ndarray  # per-patient sums of y (k,)
    sub_n: np.ndarray | None = None  # observations per lesion (L,)
    sub_x: np.ndarray | None = None  # per-lesion column sums of X (L, p)
    sub_y: np.ndarray | None = None  # per-lesion sums of y (L,)
    sub_group: np.ndarray | None = None  # patient index of each lesion (L,)

    @property
    def nested(self) -> bool:
        return self.sub_n is not None


def _sums(y: np.ndarray, x: np.ndarray, groups: np.ndarray, subgroups: np.ndarray | None) -> _Sums:
    group_index, group_codes = pd.factorize(groups, sort=True)
    k = len(group_codes)

    def add(index: np.ndarray, size: int, values: np.ndarray) -> np.ndarray:
        return np.column_stack([np.bincount(index, weights=column, minlength=size) for column in values.T])

    common = {
        "n_obs": y.size,
        "xtx": x.T @ x,
        "xty": x.T @ y,
        "yty": float(y @ y),
        "group_n": np.bincount(group_index, minlength=k).astype(float),
        "group_x": add(group_index, k, x),
        "group_y": np.bincount(group_index, weights=y, minlength=k),
    }
    if subgroups is None:
        return _Sums(**common)
    # Lesions are identified within their patient (the same lesion id in two patients is
    # two lesions); codes in order of first appearance.
    sub_index = np.asarray(pd.MultiIndex.from_arrays([group_index, subgroups]).factorize()[0])
    n_sub = int(sub_index.max()) + 1
    sub_group = np.zeros(n_sub, dtype=int)
    sub_group[sub_index] = group_index
    return _Sums(
        **common,
        sub_n=np.bincount(sub_index, minlength=n_sub).astype(float),
        sub_x=add(sub_index, n_sub, x),
        sub_y=np.bincount(sub_index, weights=y, minlength=n_sub),
        sub_group=sub_group,
    )


def _components(gammas: np.ndarray, sums: _Sums) -> tuple[float, np.ndarray, np.ndarray, float]:
    """(log|V|, X'V^-1 X, X'V^-1 y, y'V^-1 y) at relative variances ``gammas``, V divided by s_e^2.

    ``gammas`` = (s_b^2 / s_e^2,) or (s_b^2 / s_e^2, s_l^2 / s_e^2). With V_i the
    covariance of patient i's observations divided by s_e^2, u' V^-1 v is
    u'v - sum_l a_l u_l. v_l. - c_i g(u) g(v), where u_l. are lesion sums,
    a_l = g_l / (1 + m_l g_l), h_l = 1 / (1 + m_l g_l), g(u) = sum_l h_l u_l.,
    H_i = sum_l m_l h_l and c_i = g_b / (1 + g_b H_i); log|V_i| = sum_l log(1 + m_l g_l)
    + log(1 + g_b H_i).
    """
    gamma_b = gammas[0]
    p = sums.xtx.shape[0]
    a_mat, b_vec, c_val = sums.xtx.copy(), sums.xty.copy(), sums.yty
    logdet = 0.0
    if sums.nested:
        gamma_l = gammas[1]
        a = gamma_l / (1.0 + sums.sub_n * gamma_l)
        h = 1.0 / (1.0 + sums.sub_n * gamma_l)
        a_mat -= (sums.sub_x * a[:, None]).T @ sums.sub_x
        b_vec -= (sums.sub_x * a[:, None]).T @ sums.sub_y
        c_val -= float(a @ sums.sub_y**2)
        logdet += float(np.log1p(sums.sub_n * gamma_l).sum())
        k = sums.group_n.size
        weighted = sums.sub_x * h[:, None]
        gx = np.column_stack([np.bincount(sums.sub_group, weights=weighted[:, j], minlength=k) for j in range(p)])
        gy = np.bincount(sums.sub_group, weights=sums.sub_y * h, minlength=k)
        big_h = np.bincount(sums.sub_group, weights=sums.sub_n * h, minlength=k)
    else:
        gx, gy, big_h = sums.group_x, sums.group_y, sums.group_n
    c = gamma_b / (1.0 + gamma_b * big_h)
    a_mat -= (gx * c[:, None]).T @ gx
    b_vec -= (gx * c[:, None]).T @ gy
    c_val -= float(c @ gy**2)
    logdet += float(np.log1p(gamma_b * big_h).sum())
    return logdet, a_mat, b_vec, c_val


def _profile(gammas: np.ndarray, sums: _Sums, reml: bool) -> tuple[float, np.ndarray, np.ndarray, float]:
    """Profiled deviance (-2 log-likelihood) at relative variances ``gammas``
    (:func:`_components`). Returns (deviance, beta, A = X'V^-1 X * s_e^2, s_e^2).
    """
    n, p = sums.n_obs, sums.xtx.shape[0]
    logdet, a_mat, b_vec, c_val = _components(gammas, sums)
    beta = np.linalg.solve(a_mat, b_vec)
    quad = max(c_val - float(b_vec @ beta), 1e-300)
    if reml:
        dof = n - p
        scale = quad / dof
        sign, logdet_a = np.linalg.slogdet(a_mat)
        deviance = dof * math.log(scale) + logdet + logdet_a + dof * (1.0 + math.log(2 * math.pi))
    else:
        scale = quad / n
        deviance = n * math.log(scale) + logdet + n * (1.0 + math.log(2 * math.pi))
    return deviance, beta, a_mat, scale


def _deviance_at(varpar: np.ndarray, sums: _Sums, reml: bool) -> float:
    """REML or ML deviance at variance parameters ``varpar`` = (theta..., sigma), not profiled.

    theta = (s_b / s_e[, s_l / s_e]) (lme4's relative standard deviations) and sigma = s_e,
    as lmerTest's ``devfun_vp``: with Q = y'V^-1 y - b'A^-1 b the generalized residual sum
    of squares, -2 l_REML = (N - p) ln(2 pi s_e^2) + ln|V| + ln|A| + Q / s_e^2 and
    -2 l_ML = N ln(2 pi s_e^2) + ln|V| + Q / s_e^2 (V and A relative to s_e^2).
    """
    theta, sigma2 = varpar[:-1], varpar[-1] ** 2
    n, p = sums.n_obs, sums.xtx.shape[0]
    logdet, a_mat, b_vec, c_val = _components(theta**2, sums)
    quad = c_val - float(b_vec @ np.linalg.solve(a_mat, b_vec))
    if not reml:
        return n * math.log(2 * math.pi * sigma2) + logdet + quad / sigma2
    logdet_a = np.linalg.slogdet(a_mat)[1]
    return (n - p) * math.log(2 * math.pi * sigma2) + logdet + logdet_a + quad / sigma2


def _cov_beta_at(varpar: np.ndarray, sums: _Sums) -> np.ndarray:
    """Fixed-effect covariance s_e^2 (X'V^-1 X)^-1 at ``varpar`` = (theta..., sigma)."""
    theta, sigma2 = varpar[:-1], varpar[-1] ** 2
    return sigma2 * np.linalg.inv(_components(theta**2, sums)[1])


def _steps(x: np.ndarray, relative: float) -> np.ndarray:
    return relative * np.maximum(np.abs(x), 1e-2)


def _hessian(f, x: np.ndarray, relative: float = 1e-3) -> np.ndarray:
    """Central-difference Hessian with one Richardson extrapolation (error O(h^4))."""

    def at(h: np.ndarray) -> np.ndarray:
        k = x.size
        out = np.empty((k, k))
        f0 = f(x)
        for i in range(k):
            ei = np.zeros(k)
            ei[i] = h[i]
            out[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h[i] ** 2
            for j in range(i):
                ej = np.zeros(k)
                ej[j] = h[j]
                value = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
                out[i, j] = out[j, i] = value
        return out

    h = _steps(x, relative)
    return (4 * at(h / 2) - at(h)) / 3


def _jacobian(f, x: np.ndarray, relative: float = 1e-4) -> list[np.ndarray]:
    """Central-difference derivatives of a matrix function, one matrix per coordinate,
    with one Richardson extrapolation (error O(h^4))."""

    def central(direction: np.ndarray) -> np.ndarray:
        return (f(x + direction) - f(x - direction)) / (2 * np.abs(direction).sum())

    out = []
    for i, step in enumerate(_steps(x, relative)):
        e = np.zeros(x.size)
        e[i] = step
        out.append((4 * central(e / 2) - central(e)) / 3)
    return out


def _optimize(sums: _Sums, reml: bool) -> np.ndarray:
    """Relative variances minimizing the profiled deviance (bounded at 0, as lme4)."""
    from scipy import optimize

    if not sums.nested:
        # One parameter: rho = gamma / (1 + gamma) (the ICC) on [0, 1). A grid finds the
        # basin, bounded Brent refines it; the boundary rho = 0 is checked explicitly.
        def objective(rho: float) -> float:
            return _profile(np.array([rho / (1.0 - rho)]), sums, reml)[0]

        grid = np.linspace(0.0, 0.995, 60)
        values = [objective(r) for r in grid]
        best = int(np.argmin(values))
        low, high = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
        result = optimize.minimize_scalar(objective, bounds=(low, high), method="bounded", options={"xatol": 1e-12})
        rho = result.x if result.fun <= values[best] else grid[best]
        return np.array([rho / (1.0 - rho)])

    # Two parameters: lme4's theta = sqrt(gamma) >= 0, L-BFGS-B from the best grid start.
    def objective2(theta: np.ndarray) -> float:
        return _profile(theta**2, sums, reml)[0]

    starts = [np.array([tb, tl]) for tb in (0.25, 0.75, 1.5) for tl in (0.25, 0.75, 1.5)]
    start = min(starts, key=objective2)
    result = optimize.minimize(
        objective2, start, method="L-BFGS-B", bounds=[(0.0, None), (0.0, None)], options={"ftol": 1e-14, "gtol": 1e-9}
    )
    # Polish with Nelder-Mead (derivative-free), as lme4 ends with a derivative-free optimizer.
    polished = optimize.minimize(
        objective2, np.asarray(result.x), method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12}
    )
    best = polished.x if polished.fun < result.fun and (polished.x >= 0).all() else result.x
    return np.asarray(best) ** 2


@dataclass(frozen=True)
class TTest:
    """A contrast's estimate, standard error, Satterthwaite df, t and two-sided p."""

    estimate: float
    se: float
    df: float
    t: float
    p: float

    def interval(self, level: float) -> tuple[float, float]:
        """estimate -/+ t_{df, (1 + level) / 2} se (R: ``contest1D(..., confint = TRUE)``)."""
        from scipy import stats

        if not self.se > 0:
            return math.nan, math.nan
        half = float(stats.t.ppf(0.5 + level / 2, self.df)) * self.se
        return self.estimate - half, self.estimate + half


@dataclass(frozen=True)
class FTest:
    """F statistic with numerator and (Satterthwaite) denominator df and its p."""

    statistic: float
    df_num: int
    df_den: float
    p: float


class NotEstimable(ValueError):
    """The data cannot identify the model (too few observations or patients)."""


@dataclass(frozen=True)
class MixedFit:
    """A fitted (nested) random-intercept linear mixed model.

    ``params`` and ``cov`` are the fixed effects and their Wald covariance;
    ``var_patient``, ``var_lesion`` (NaN unless nested) and ``var_residual`` the
    variance components; ``loglike`` the REML or ML log-likelihood with all constants
    (as R's ``logLik``); ``n_obs``, ``n_patients``, ``n_lesions``.
    """

    params: pd.Series
    cov: pd.DataFrame
    var_patient: float
    var_lesion: float
    var_residual: float
    loglike: float
    reml: bool
    n_obs: int
    n_patients: int
    n_lesions: int
    sums: _Sums = field(repr=False, compare=False)

    @property
    def icc(self) -> float:
        """Between-patient share of the variance: s_b^2 / (s_b^2 [+ s_l^2] + s_e^2)."""
        lesion = 0.0 if math.isnan(self.var_lesion) else self.var_lesion
        return self.var_patient / (self.var_patient + lesion + self.var_residual)

    def contrast(self, weights: dict[str, float] | pd.Series) -> tuple[float, float]:
        """Estimate and standard error of sum_j w_j beta_j."""
        w = self._weights(weights)
        return float(w @ self.params), float(math.sqrt(max(w @ self.cov @ w, 0.0)))

    def _weights(self, weights: dict[str, float] | pd.Series) -> pd.Series:
        unknown = sorted(set(pd.Series(weights).index) - set(self.params.index))
        if unknown:
            raise KeyError(f"contrast names {unknown} are not fixed effects of the model {list(self.params.index)}")
        return pd.Series(weights, dtype=float).reindex(self.params.index, fill_value=0.0)

    @property
    def varpar(self) -> np.ndarray:
        """Variance parameters as lmerTest's ``varpar``: (s_b / s_e[, s_l / s_e], s_e)."""
        sigma = math.sqrt(self.var_residual)
        ratios = [self.var_patient] + ([] if math.isnan(self.var_lesion) else [self.var_lesion])
        return np.array([math.sqrt(max(v, 0.0)) / sigma for v in ratios] + [sigma])

    @cached_property
    def _satterthwaite(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """(A, J): A = 2 H^-1, the asymptotic covariance of :attr:`varpar` from the Hessian H
        of the (RE)ML deviance (Moore-Penrose inverse over eigenvalues > 1e-8, as lmerTest),
        and J the derivatives of the fixed-effect covariance with respect to each varpar."""
        x = self.varpar
        hessian = _hessian(lambda v: _deviance_at(v, self.sums, self.reml), x)
        values, vectors = np.linalg.eigh(hessian)
        keep = values > 1e-8
        inverse = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
        return 2.0 * inverse, _jacobian(lambda v: _cov_beta_at(v, self.sums), x)

    def _contrast_df(self, weights: np.ndarray, variance: float) -> float:
        """Satterthwaite df of w'beta: 2 (w'Vw)^2 / (g'Ag), g_k = w' (dV/dvarpar_k) w."""
        vcov_varpar, jacobian = self._satterthwaite
        gradient = np.array([weights @ j @ weights for j in jacobian])
        denominator = float(gradient @ vcov_varpar @ gradient)
        return 2.0 * variance**2 / denominator if denominator > 0 else math.inf

    def t_test(self, weights: dict[str, float] | pd.Series) -> TTest:
        """t test of sum_j w_j beta_j = 0 with Satterthwaite degrees of freedom.

        df = 2 (w'Vw)^2 / (g'Ag) (Satterthwaite 1946, Biometrics Bull 2:110; Giesbrecht &
        Burns 1985), with V the fixed-effect covariance, A the asymptotic covariance of the
        variance parameters (twice the inverse Hessian of the deviance) and g the gradient of
        w'Vw with respect to them, both by numerical differentiation at the estimates -- the
        method of lmerTest (Kuznetsova, Brockhoff & Christensen 2017, J Stat Softw 82(13),
        section 3; R: ``contest1D(lmerTest::lmer(...), L)``, ``summary(fit)``). Written by
        hand: statsmodels' MixedLM reports Wald z only, and no well-kept Python library
        computes these degrees of freedom.
        """
        from scipy import stats

        w = self._weights(weights)
        estimate = float(w @ self.params)
        variance = float(w @ self.cov @ w)
        if not variance > 0:
            return TTest(estimate, 0.0, math.nan, math.nan, math.nan)
        se = math.sqrt(variance)
        df = self._contrast_df(w.to_numpy(), variance)
        t = estimate / se
        return TTest(estimate, se, df, t, float(2 * stats.t.sf(abs(t), df)))

    def f_test(self, contrasts: np.ndarray | pd.DataFrame) -> FTest:
        """F test of L beta = 0 (rows of ``contrasts`` over the fixed effects, in order) with
        Satterthwaite denominator df, as lmerTest's ``contestMD`` (Kuznetsova et al. 2017,
        section 3.2; Fai & Cornelius 1996): L V L' = P D P' is eigen-decomposed; the q rows
        of P'L with d_m > 0 are independent t statistics t_m with Satterthwaite df nu_m;
        F = sum t_m^2 / q on q numerator df, denominator df 2E / (E - q) with
        E = sum nu_m / (nu_m - 2) (2 if any nu_m <= 2; nu_1 when all nu_m are equal).
        """
        from scipy import stats

        matrix = np.atleast_2d(np.asarray(contrasts, dtype=float))
        if matrix.shape[1] != self.params.size:
            raise ValueError(f"contrast matrix has {matrix.shape[1]} columns for {self.params.size} fixed effects")
        values, vectors = np.linalg.eigh(matrix @ self.cov.to_numpy() @ matrix.T)
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
        keep = values > max(np.sqrt(np.finfo(float).eps) * values[0], 0.0)
        rows = vectors[:, keep].T @ matrix
        d = values[keep]
        q = int(keep.sum())
        t2 = (rows @ self.params.to_numpy()) ** 2 / d
        statistic = float(t2.sum() / q)
        nu = np.array([self._contrast_df(row, value) for row, value in zip(rows, d, strict=True)])
        if q == 1 or np.all(np.abs(np.diff(nu)) < 1e-8):
            df = float(nu.mean())
        elif np.any(nu <= 2):
            df = 2.0
        else:
            expectation = float((nu / (nu - 2)).sum())
            df = 2 * expectation / (expectation - q)
        return FTest(statistic, q, df, float(stats.f.sf(statistic, q, df)))


def sequential_contrasts(design: np.ndarray | pd.DataFrame, rows: list[int]) -> np.ndarray:
    """Rows ``rows`` of L' from X'X = L D L' (L unit lower triangular; the Doolittle
    factorization), entries below 1e-6 in absolute value set to 0.

    These are lmerTest's type I (sequential) hypothesis contrasts, which its ``anova()``
    also uses for a model with a single term (``get_contrasts_type1``; Kuznetsova et al.
    2017, section 3.3). The Satterthwaite denominator df of :meth:`MixedFit.f_test`
    depends on the basis of the hypothesis (not its F statistic), so a factor is tested
    with this basis of the treatment-coded design ``[1, dummies]`` to give
    ``anova(lmerTest::lmer(y ~ factor + (1 | group)))``'s DenDF.
    """
    x = np.asarray(design, dtype=float)
    chol = np.linalg.cholesky(x.T @ x)
    upper = (chol / np.diag(chol)).T  # L' = D^-1/2 C' for X'X = C C'
    upper[np.abs(upper) < 1e-6] = 0.0
    return upper[rows]


def fit_random_intercepts(
    y: np.ndarray | pd.Series,
    exog: pd.DataFrame,
    groups: np.ndarray | pd.Series,
    subgroups: np.ndarray | pd.Series | None = None,
    *,
    reml: bool = True,
) -> MixedFit:
    """Fit ``y ~ exog + (1 | groups) [+ (1 | groups:subgroups)]`` by REML or ML.

    ``exog`` holds the fixed-effect design (include an intercept column if wanted);
    ``subgroups`` (e.g. lesion ids) are nested within ``groups`` (patients). See the
    module docstring for the method; equivalent to ``statsmodels.MixedLM(y, exog,
    groups).fit(reml=reml)`` and R's ``lmer``.
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(exog, dtype=float)
    if x.ndim != 2 or x.shape[0] != y.size:
        raise ValueError("exog must have one row per observation")
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError(f"the fixed-effect design {list(exog.columns)} is rank deficient")
    if y.size <= x.shape[1] + (1 if reml else 0):
        raise NotEstimable(f"{y.size} observation(s) for {x.shape[1]} fixed effect(s): no residual degrees of freedom")
    groups = np.asarray(groups)
    subgroups = None if subgroups is None else np.asarray(subgroups)
    sums = _sums(y, x, groups, subgroups)
    gammas = _optimize(sums, reml)
    deviance, beta, a_mat, scale = _profile(gammas, sums, reml)
    names = list(exog.columns)
    cov = scale * np.linalg.inv(a_mat)
    return MixedFit(
        params=pd.Series(beta, index=names),
        cov=pd.DataFrame(cov, index=names, columns=names),
        var_patient=float(gammas[0] * scale),
        var_lesion=float(gammas[1] * scale) if sums.nested else math.nan,
        var_residual=float(scale),
        loglike=-0.5 * deviance,
        reml=reml,
        n_obs=int(y.size),
        n_patients=int(sums.group_n.size),
        n_lesions=int(sums.sub_n.size) if sums.nested else int(y.size),
        sums=sums,
    )


def _intercept_only_deviance(rho: np.ndarray, means: np.ndarray, within: np.ndarray, n_i: np.ndarray) -> np.ndarray:
    """REML deviance (up to a constant) of ``y ~ 1 + (1 | patient)`` from its sufficient
    statistics, vectorized over replicates: ``rho`` (R,) ICCs, ``means`` (R, k) patient
    means, ``within`` (R,) pooled within-patient sums of squares.

    With gamma = rho / (1 - rho) and w_i = n_i / (1 + n_i gamma): mu = sum w ybar / sum w,
    Q = W + sum w_i (ybar_i - mu)^2, deviance = (N - 1) ln Q + sum ln(1 + n_i gamma)
    + ln sum w_i (the single-level case of :func:`_profile`).
    """
    gamma = (rho / (1.0 - rho))[:, None]
    w = n_i / (1.0 + n_i * gamma)
    total_w = w.sum(axis=1)
    mu = (w * means).sum(axis=1) / total_w
    quad = within + (w * (means - mu[:, None]) ** 2).sum(axis=1)
    return (n_i.sum() - 1) * np.log(quad) + np.log1p(n_i * gamma).sum(axis=1) + np.log(total_w)


def bootstrap_icc(fit: MixedFit, replicates: int, seed: int) -> np.ndarray:
    """ICCs of ``replicates`` parametric-bootstrap refits of an intercept-only model.

    Draws patient means ybar_i* ~ N(mu, s_b^2 + s_e^2 / n_i) and the pooled
    within-patient sum of squares W* ~ s_e^2 chi^2(N - k) from the fitted model, which
    determine the REML fit exactly, and refits every replicate by REML at once: the ICC
    is bracketed on a grid of [0, 1) and refined by golden-section search (to 1e-10).
    """
    sums = fit.sums
    if sums.nested or list(fit.params.index) != ["intercept"]:
        raise ValueError("bootstrap_icc needs an intercept-only, single-level fit")
    rng = np.random.default_rng(seed)
    n_i, k, n = sums.group_n, sums.group_n.size, sums.n_obs
    mu = float(fit.params.iloc[0])
    out = np.empty(replicates)
    chunk = max(1, min(replicates, 2_000_000 // k))
    grid = np.linspace(0.0, 0.999, 41)
    ratio = (math.sqrt(5) - 1) / 2
    for start in range(0, replicates, chunk):
        size = min(chunk, replicates - start)
        means = rng.normal(mu, np.sqrt(fit.var_patient + fit.var_residual / n_i), size=(size, k))
        within = fit.var_residual * rng.chisquare(n - k, size=size) if n > k else np.zeros(size)
        values = np.stack([_intercept_only_deviance(np.full(size, r), means, within, n_i) for r in grid])
        best = values.argmin(axis=0)
        low, high = grid[np.maximum(best - 1, 0)], grid[np.minimum(best + 1, grid.size - 1)]
        best_rho, best_value = grid[best], values[best, np.arange(size)]
        a, b = low.copy(), high.copy()
        for _ in range(60):  # golden-section: bracket shrinks by 0.618 per step
            c, d = b - ratio * (b - a), a + ratio * (b - a)
            fc = _intercept_only_deviance(c, means, within, n_i)
            fd = _intercept_only_deviance(d, means, within, n_i)
            left = fc < fd
            b, a = np.where(left, d, b), np.where(left, a, c)
        rho = (a + b) / 2
        refined = _intercept_only_deviance(rho, means, within, n_i)
        out[start : start + size] = np.where(refined <= best_value, rho, best_rho)
    return out
