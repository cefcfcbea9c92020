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

Wald inference uses the model-based covariance s_e^2 (X' V^-1 X)^-1 at the estimated
variances (:attr:`MixedFit.cov`, as ``statsmodels`` and ``confint(fit, method =
"Wald")`` in R).

ICC = s_b^2 / (s_b^2 + s_e^2) (:attr:`MixedFit.icc`); :func:`bootstrap_icc` gives its
parametric bootstrap (percentile interval, fixed seed): replicates are drawn from the
fitted intercept-only model through its sufficient statistics -- group means
ybar_i ~ N(mu, s_b^2 + s_e^2 / n_i) and the pooled within-group sum of squares
~ s_e^2 chi^2(N - k) -- and refitted by REML, which is exactly a bootstrap of the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize


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


def _profile(gammas: np.ndarray, sums: _Sums, reml: bool) -> tuple[float, np.ndarray, np.ndarray, float]:
    """Profiled deviance (-2 log-likelihood) at relative variances ``gammas``.

    ``gammas`` = (s_b^2 / s_e^2,) or (s_b^2 / s_e^2, s_l^2 / s_e^2). With V_i the
    covariance of patient i's observations divided by s_e^2, u' V^-1 v is
    u'v - sum_l a_l u_l. v_l. - c_i g(u) g(v), where u_l. are lesion sums,
    a_l = g_l / (1 + m_l g_l), h_l = 1 / (1 + m_l g_l), g(u) = sum_l h_l u_l.,
    H_i = sum_l m_l h_l and c_i = g_b / (1 + g_b H_i); log|V_i| = sum_l log(1 + m_l g_l)
    + log(1 + g_b H_i). Returns (deviance, beta, A = X'V^-1 X * s_e^2, s_e^2).
    """
    gamma_b = gammas[0]
    n, p = sums.n_obs, sums.xtx.shape[0]
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


def _optimize(sums: _Sums, reml: bool) -> np.ndarray:
    """Relative variances minimizing the profiled deviance (bounded at 0, as lme4)."""
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
        w = pd.Series(weights, dtype=float).reindex(self.params.index, fill_value=0.0)
        return float(w @ self.params), float(math.sqrt(max(w @ self.cov @ w, 0.0)))


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
