"""Post-run statistics (SPEC §5.8): the ``stats_tests`` table.

The observations can be millions of per-sweep rows, so DuckDB reduces them per unit to
sufficient statistics (n, sum, m2 per test cell: ``sql/partials/stats.sql`` and the markout
partials, kept in the catalog and rebuilt only for units whose done state changed, see
:mod:`.partials`); ``sql/stats/010_cells.sql`` combines the units per scope, segment, test, metric
and group (Chan's parallel formula) into the TEMP table ``stats_cells`` that 020-060 read, and
090 swaps the new table in and drops it. Python only turns those few rows into t/F statistics
with scipy's distributions, vectorised over all tests at once.
Benjamini-Hochberg adjusts every p-value of the run together, so it runs after all families.

Tests and their columns:

- ``paired_t`` (real - simulated over set-A sweeps): estimate = mean difference, effect_size =
  Cohen's d_z = mean(diff) / sd(diff), ci = t-based 95% CI of the mean difference.
- ``one_sample_t`` (savings_bps vs 0, metric ``savings_bps:<scenario>``): estimate = mean,
  effect_size = Cohen's d = mean / sd, ci of the mean.
- ``welch_t`` (G1 - G2): estimate = difference of means, Welch-Satterthwaite df, ci of the
  difference, effect_size = Cohen's d with the pooled sd.
- ``one_sample_t`` of ``markout_bps:<curve>:<h>s`` (SPEC §5.10, per fill) and ``welch_t_markout``
  (simulated dark - real lit markouts per horizon), from ``sql/stats/050`` and ``060``.
- ``anova_size_bucket`` / ``anova_scenario``: statistic = F, df / df2 = k - 1 / N - k,
  effect_size = eta squared.

Fewer than two observations or zero variance give NULL statistic and p-value with the reason in
``note``; they never raise.
"""
from __future__ import annotations

import logging
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ..db import execute
from ..settings import Settings
from ..sqlrender import render, run_script
from . import partials
from .aggregate import own_transaction

log = logging.getLogger(__name__)

STATS_TEMPLATES: list[str] = [
    "stats/010_cells.sql", "stats/020_moments.sql", "stats/030_welch.sql",
    "stats/040_anova.sql", "stats/050_markout_moments.sql",
    "stats/090_write.sql", *partials.TEMPLATES,
]
FAMILIES = ["stats", "markouts"]     # the partials the tests combine
CONFIDENCE = 0.95
OUTPUT_COLUMNS = ["scope", "segment", "metric", "test", "n", "statistic", "p_value", "p_adjusted",
                  "effect_size", "ci_low", "ci_high", "note", "effect_measure", "estimate", "df",
                  "df2", "comparison"]
_COMPARISON = {"paired_t": "real - simulated", "one_sample_t": "mean vs 0",
               "welch_t": "G1 - G2", "welch_t_markout": "simulated dark - real lit",
               "anova_size_bucket": "across size buckets",
               "anova_scenario": "across scenarios"}
_EFFECT = {"paired_t": "d_z", "one_sample_t": "d", "welch_t": "d_pooled", "welch_t_markout": "d_pooled",
           "anova_size_bucket": "eta_squared", "anova_scenario": "eta_squared"}

Columns = dict[str, np.ndarray]


def compute_stats(con: duckdb.DuckDBPyConnection, settings: Settings | None, *,
                  incremental: bool = False) -> int:
    """Rebuild ``stats_tests`` from the result tables of done units; returns its row count.

    ``incremental``: rebuild only the partials of units whose done state changed (the engine's
    post-run stage); else every unit's. Runs in the caller's transaction when one is open, else
    in its own, so a failure leaves the previous ``stats_tests`` in place.
    """
    del settings  # segments come from the size_bucket labels the analysis stored
    with own_transaction(con):
        partials.refresh(con, FAMILIES, full=not incremental)
        run_script(con, "stats/010_cells.sql")
        families = [one_sample_tests(_fetch(con, "stats/020_moments.sql")),
                    welch_tests(_fetch(con, "stats/030_welch.sql", {"test": "welch_t", "g1": "G1", "g2": "G2"})),
                    anova_tests(_fetch(con, "stats/040_anova.sql")),
                    one_sample_tests(_fetch(con, "stats/050_markout_moments.sql")),
                    welch_tests(_fetch(con, "stats/030_welch.sql", {"test": "welch_t_markout", "g1": "sim",
                                                                    "g2": "real"}), ("simulated dark", "real lit"))]
        cols = {c: np.concatenate([f[c] for f in families]) for c in OUTPUT_COLUMNS
                if c != "p_adjusted"}
        cols["p_adjusted"] = bh_adjust(cols["p_value"])
        table = pa.table({c: _arrow(cols[c]) for c in OUTPUT_COLUMNS})
        con.register("stats_new", table)
        try:
            run_script(con, "stats/090_write.sql")
        finally:
            con.unregister("stats_new")
    log.info("stats_tests rebuilt: %d tests, %d with a p-value", table.num_rows,
             int(np.sum(~np.isnan(cols["p_value"]))))
    return table.num_rows


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values of the non-NaN entries (NaN stays NaN)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():         # scipy.stats.false_discovery_control(method="bh"), without its import
        q = p[ok]
        order = np.argsort(q)
        m = len(q)
        adj = np.minimum.accumulate((q[order] * m / np.arange(1, m + 1))[::-1])[::-1]
        res = np.empty(m)
        res[order] = np.clip(adj, 0, 1)
        out[ok] = res
    return out


# The t and F distributions from scipy.special (what scipy.stats' t and f call): importing
# scipy.stats costs ~2 s here, scipy.special ~0.5 s, and the post-run stage of a one-unit rerun
# should not pay seconds for an import.
def import_distributions() -> None:
    """Import scipy.special (0.2-0.3 s) ahead of the statistics; the run calls this in a thread
    beside its batches, whose DuckDB queries leave the interpreter free. A failure is left to the
    import in the statistics, which reports it."""
    try:
        from scipy import special  # noqa: F401
    except Exception:  # noqa: BLE001 - reported where the statistics import it
        pass


def _t_sf(x: np.ndarray, df: np.ndarray) -> np.ndarray:
    from scipy import special  # lazy
    return special.stdtr(df, -x)


def _t_ppf(q: float, df: np.ndarray) -> np.ndarray:
    from scipy import special  # lazy
    return special.stdtrit(df, q)


def _f_sf(f: np.ndarray, df1: np.ndarray, df2: np.ndarray) -> np.ndarray:
    from scipy import special  # lazy
    return special.fdtrc(df1, df2, f)


def one_sample_tests(r: Columns) -> Columns:
    """One-sample t on (n, mean, var): paired differences and savings_bps against 0."""
    n, mean, var = r["n"].astype(float), r["mean"], r["var"]
    notes = _notes([(n < 2, lambda i: f"fewer than 2 observations (n={int(n[i])})"),
                    (_zero(var, mean), lambda i: "zero variance")], len(n))
    ok = notes == None  # noqa: E711 (elementwise)
    with np.errstate(all="ignore"):
        sd = np.sqrt(var)
        se = sd / np.sqrt(n)
        t = mean / se
        df = n - 1
        half = _t_ppf(0.5 + CONFIDENCE / 2, df) * se
        out = _result(r, n, statistic=t, p_value=2 * _t_sf(np.abs(t), df),
                      effect_size=mean / sd, ci_low=mean - half, ci_high=mean + half,
                      estimate=mean, df=df, df2=np.full(len(n), np.nan), ok=ok)
    out["note"] = notes
    out["estimate"] = np.where(n >= 1, mean, np.nan)
    return out


def welch_tests(r: Columns, labels: tuple[str, str] = ("G1", "G2")) -> Columns:
    """Welch's t of group 1 - group 2 (G1 - G2, or ``labels``) with Welch-Satterthwaite df."""
    n1, n2 = r["n1"].astype(float), r["n2"].astype(float)
    m1, m2, v1, v2 = r["mean1"], r["mean2"], r["var1"], r["var2"]
    with np.errstate(all="ignore"):
        a, b = v1 / n1, v2 / n2
        se = np.sqrt(a + b)
        notes = _notes([(n1 < 2, lambda i: f"{labels[0]} has fewer than 2 observations (n={int(n1[i])})"),
                        (n2 < 2, lambda i: f"{labels[1]} has fewer than 2 observations (n={int(n2[i])})"),
                        (_zero(v1, m1) & _zero(v2, m2), lambda i: "zero variance in both groups")],
                       len(n1))
        diff = m1 - m2
        t = diff / se
        df = (a + b) ** 2 / (a ** 2 / (n1 - 1) + b ** 2 / (n2 - 1))
        half = _t_ppf(0.5 + CONFIDENCE / 2, df) * se
        pooled = np.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
        out = _result(r, n1 + n2, statistic=t, p_value=2 * _t_sf(np.abs(t), df),
                      effect_size=diff / pooled, ci_low=diff - half, ci_high=diff + half,
                      estimate=diff, df=df, df2=np.full(len(n1), np.nan), ok=notes == None)  # noqa: E711
    out["note"] = notes
    out["estimate"] = diff
    return out


def anova_tests(r: Columns) -> Columns:
    """One-way ANOVA F from per-group sufficient statistics (k groups, N observations)."""
    k, n = r["k"].astype(float), r["n"].astype(float)
    ssb, ssw = r["ss_between"], r["ss_within"]
    notes = _notes([(k < 2, lambda i: f"fewer than 2 groups (k={int(k[i])})"),
                    (n <= k, lambda i: f"no within-group degrees of freedom (N={int(n[i])}, k={int(k[i])})"),
                    (~(ssw > 0), lambda i: "zero within-group variance")], len(k))
    with np.errstate(all="ignore"):
        df1, df2 = k - 1, n - k
        f = (ssb / df1) / (ssw / df2)
        nan = np.full(len(k), np.nan)
        out = _result(r, n, statistic=f, p_value=_f_sf(f, df1, df2),
                      effect_size=ssb / (ssb + ssw), ci_low=nan, ci_high=nan, estimate=nan,
                      df=df1, df2=df2, ok=notes == None)  # noqa: E711
    out["note"] = notes
    return out


# ---------------------------------------------------------------- helpers

def _fetch(con: duckdb.DuckDBPyConnection, template: str, params: dict | None = None) -> Columns:
    """Run a sufficient-statistics query; columns as numpy arrays (NULL -> NaN for numbers)."""
    cur = execute(con, render(template).strip().rstrip(";"), params, template=template)
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    cols = list(zip(*rows)) if rows else [()] * len(names)
    out: Columns = {}
    for name, values in zip(names, cols):
        if name in ("scope", "segment", "test", "metric"):
            out[name] = np.array(values, dtype=object)
        else:
            out[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
    return out


def _zero(var: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Zero variance: exactly 0, or an sd below 1e-12 of the mean (rounding noise)."""
    with np.errstate(invalid="ignore"):
        return (var <= 0) | (np.sqrt(np.abs(var)) <= 1e-12 * np.abs(mean))


def _notes(rules: list[tuple[np.ndarray, Any]], size: int) -> np.ndarray:
    """The first applicable reason per test (None when the test can be computed)."""
    notes = np.full(size, None, dtype=object)
    for mask, text in rules:
        for i in np.flatnonzero(mask & (notes == None)):  # noqa: E711 (few tests, not rows)
            notes[i] = text(i)
    return notes


def _result(r: Columns, n: np.ndarray, *, ok: np.ndarray, **values: np.ndarray) -> Columns:
    """Assemble one family's output columns; values of tests that are not ``ok`` become NaN."""
    test = r["test"]
    out: Columns = {c: r[c] for c in ("scope", "segment", "metric", "test")}
    out["n"] = np.nan_to_num(n, nan=0.0)
    for name, arr in values.items():
        out[name] = np.where(ok, arr, np.nan).astype(float)
    out["effect_measure"] = np.array([_EFFECT[t] for t in test], dtype=object)
    out["comparison"] = np.array([_COMPARISON[t] for t in test], dtype=object)
    return out


def _arrow(values: np.ndarray) -> pa.Array:
    if values.dtype == object:
        return pa.array(list(values), type=pa.string())
    return pa.array(values, from_pandas=True)  # NaN -> NULL
