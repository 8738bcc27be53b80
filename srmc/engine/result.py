"""`SampleResult`: estimates, per-chain estimates, diagnostics and a summary table."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Mapping

import jax
import numpy as np

from srmc.engine.batch_means import chain_mcse, pooled_mcse
from srmc.engine.metadata import run_metadata
from srmc.engine.storage import save_result
from srmc.targets.base import Histogram, spread_stderr


@dataclasses.dataclass(frozen=True, eq=False)
class SampleResult:
    """What `srmc.sample` returns.

    Attributes:
      estimates: ``{name: estimate}`` pooled over chains (running means of the user's functions).
      chain_estimates: ``{name: (num_chains, ...)}`` per-chain running means.
      acceptance_rate: mean acceptance probability per chain over the counted steps.
      num_nonfinite: proposals rejected because their log density or gradient was not finite, per chain.
      draws: stored positions ``(num_chains, num_draws, dim)`` when `thin` was given, else None.
      draw_stats: per stored draw ``(num_chains, num_draws)``: ``acceptance_rate`` and ``num_nonfinite`` over the
        `thin` steps leading to it, and the algorithm's own statistics (`Report.statistics`); empty without
        draws.
      final_state: the last state of every chain (a pytree with a leading chain axis).
      num_steps, burn_in, thin: the run's lengths; wall_time: seconds spent sampling (compilation included).
      snapshot_steps, snapshots: with ``srmc.sample(snapshot_steps=...)``, the counted steps and
        ``{name: (num_snapshots, num_chains, ...)}`` per-chain running means at each of them.
      site_unravel: optional map from flat positions ``(chains, draws, dim)`` to named sites
        ``{site: (chains, draws, ...)}``; `to_arviz` then writes one variable per site and `summary` shows one
        row per site element. Set by default for `targets.from_numpyro` targets (their constrained sites, via
        `targets.constrain`); None: one variable ``x``.
      num_nonfinite_values: ``{name: (num_chains,)}`` counted steps at which the function's value was not
        finite (then its estimate is NaN and listed in `nonfinite_estimates`).
      batch_means: ``{name: (num_chains, num_complete, ...)}`` complete online batch means of length
        `batch_length` (see `srmc.batch_means`); empty with ``num_batches=0``.
      run_info: the run's metadata (`srmc.engine.metadata.run_metadata`): ``versions``, ``rng_key`` and
        ``configuration``; saved with `save`.
      compile_time, sampling_time: of `wall_time`, seconds spent tracing and compiling, and the rest.
      warmup_steps: steps of the warm-up on pi before the run (0: none).
      adapted_params: what the warm-up chose for the base kernel, ``{parameter: value}`` (pooled: one value; per
        chain: a leading chain axis); empty without warm-up.
      warmup_stats: the warm-up's pooled estimates (`srmc.WarmupStats`: location, variance, score second moment =
        Fisher information, acceptance, and in ``extra`` what the algorithm's own collectors measured), or None.
      monitor: ``{statistic: (num_chains, num_points)}`` values of the algorithm's statistics at `monitor_steps`,
        evenly spaced counted steps.
      warnings: the health report, a list of `srmc.HealthWarning` (empty for a healthy run).
      counters: per-chain values the algorithm counts at the end (`srmc.method.algorithm.Report.counters`).
      params: the algorithm's parameters the run stepped with, one chain's per row (numpy; after the warm-up).
      notes: lines the algorithm adds to ``summary()`` (SRMC: the warm-up's prediction).
      halfway_step, halfway_estimates: every chain's running means at counted step ``num_steps // 2``
        (``{name: (num_chains, ...)}``), for the health report's finite-n bias check (`bias_from_halves`).
    """

    estimates: dict[str, np.ndarray]
    chain_estimates: dict[str, np.ndarray]
    acceptance_rate: np.ndarray
    num_nonfinite: np.ndarray
    draws: np.ndarray | None
    draw_stats: dict[str, np.ndarray]
    final_state: Any
    algorithm_name: str
    target_name: str
    num_steps: int
    burn_in: int
    thin: int | None
    wall_time: float
    site_unravel: Callable[[np.ndarray], Mapping[str, Any]] | None = None
    snapshot_steps: np.ndarray | None = None
    snapshots: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    num_nonfinite_values: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    batch_means: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    batch_length: int = 0
    run_info: dict = dataclasses.field(default_factory=dict)
    compile_time: float = 0.0
    sampling_time: float = 0.0
    warmup_steps: int = 0
    adapted_params: dict = dataclasses.field(default_factory=dict)
    warmup_stats: Any = None
    monitor_steps: np.ndarray | None = None
    monitor: dict = dataclasses.field(default_factory=dict)
    warnings: list = dataclasses.field(default_factory=list)
    counters: dict = dataclasses.field(default_factory=dict)
    halfway_step: int = 0
    halfway_estimates: dict = dataclasses.field(default_factory=dict)
    params: Any = None
    notes: list = dataclasses.field(default_factory=list)

    @classmethod
    def from_run(cls, run, draws, functions: Mapping[str, Callable], algorithm, target, lengths, wall_time: float,
                 snapshot_steps: tuple = (), rng_key: Any = None, monitor_steps: tuple = ()) -> "SampleResult":
        """Collect a finished run (`runner.RunState`, its `runner.RunLengths`, the run's key) into a result."""
        num_steps, burn_in, thin, batch_length = lengths.num_steps, lengths.burn_in, lengths.thin, lengths.batch_length
        chain_estimates = {name: _estimate(m, functions[name], run) for name, m in zip(functions, run.running_means)}
        positions, draw_stats = (None, {}) if draws is None else draws
        num_complete = num_steps // batch_length if batch_length else 0
        batches = {name: np.asarray(m.batches)[:, :num_complete] for name, m in zip(functions, run.batch_means)
                   if m is not None}
        return cls(
            estimates={name: value.mean(axis=0) for name, value in chain_estimates.items()},
            chain_estimates=chain_estimates,
            acceptance_rate=np.asarray(run.acceptance_sum) / num_steps,
            num_nonfinite=np.asarray(run.num_nonfinite),
            draws=None if positions is None else np.asarray(positions),
            draw_stats={name: np.asarray(value) for name, value in draw_stats.items()},
            final_state=run.states,
            algorithm_name=algorithm.name,
            target_name=target.name,
            num_steps=num_steps,
            burn_in=burn_in,
            thin=thin,
            wall_time=wall_time,
            snapshot_steps=np.asarray(snapshot_steps, np.int64) if snapshot_steps else None,
            snapshots={name: np.swapaxes(np.asarray(m), 0, 1) for name, m in zip(functions, run.snapshots)},
            num_nonfinite_values={name: np.asarray(n) for name, n in zip(functions, run.nonfinite_values)},
            batch_means=batches,
            batch_length=batch_length,
            site_unravel=default_site_unravel(target),
            run_info=run_metadata(rng_key, algorithm, target, functions, lengths, snapshot_steps),
            warmup_steps=lengths.warmup_steps,
            adapted_params=_adapted_params(run, lengths),
            warmup_stats=None if not lengths.warmup_steps else jax.tree.map(np.asarray, run.warmup.stats),
            monitor_steps=np.asarray(monitor_steps, np.int64) if monitor_steps else None,
            monitor={name: np.asarray(value) for name, value in run.monitor.items()},
            halfway_step=num_steps // 2 if run.halfway else 0,
            halfway_estimates={name: np.asarray(m[:, 0]) for name, m in zip(functions, run.halfway)},
            params=jax.tree.map(np.asarray, run.params),
        )

    @property
    def num_chains(self) -> int:
        """Number of chains."""
        return int(self.acceptance_rate.shape[0])

    def to_arviz(self, var_name: str = "x") -> Any:
        """An ``arviz.InferenceData`` of the stored draws (needs ``thin=...`` in `srmc.sample`).

        ``posterior``: ``var_name`` with dims (chain, draw, ``{var_name}_dim_0``), or one variable per site when
        `site_unravel` is set. ``sample_stats`` (chain, draw): ``acceptance_rate`` (mean over the `thin` steps
        leading to each draw), ``num_nonfinite`` (non-finite proposals among them) and the algorithm's own
        statistics. The posterior's attributes name the algorithm, the target and the run's lengths.
        ``log_likelihood`` (chain, draw, ...): for a `targets.from_numpyro` target, the pointwise log-likelihood of
        each observed site at each draw (`srmc.interop.numpyro.log_likelihood`), so ``az.loo`` and ``az.waic`` work.
        """
        if self.draws is None:
            raise ValueError("to_arviz needs stored draws: pass thin=... (e.g. thin=10) to srmc.sample.")
        arviz = _import_arviz()
        posterior, dims = _posterior_variables(self.draws, var_name, self.site_unravel)
        attrs = {"algorithm": self.algorithm_name, "target": self.target_name, "num_steps": self.num_steps,
                 "burn_in": self.burn_in, "thin": self.thin}
        log_likelihood = _numpyro_log_likelihood(self.site_unravel, self.draws)
        groups = {} if log_likelihood is None else {"log_likelihood": log_likelihood}
        data = arviz.from_dict(posterior=posterior, sample_stats=dict(self.draw_stats), dims=dims, attrs=attrs,
                               **groups)
        data.posterior.attrs.update(attrs)  # on the group too: arviz versions differ in where from_dict puts them
        return data

    @property
    def mean(self) -> np.ndarray:
        """Estimate of E[x] (needs the default function ``"x"``)."""
        return self._require("x")

    @property
    def variance(self) -> np.ndarray:
        """Estimate of Var[x] from the pooled E[x^2] and E[x]."""
        return self._require("x^2") - self._require("x") ** 2

    @property
    def chain_variance(self) -> np.ndarray:
        """Per-chain Var[x] estimates, ``(num_chains, dim)``."""
        return self.chain_estimates["x^2"] - self.chain_estimates["x"] ** 2

    def mcse(self, name: str = "x") -> np.ndarray:
        """Monte Carlo standard error of ``estimates[name]`` from the spread of independent chains.

        Needs at least two chains (NaN with one) and no assumption about a chain's autocorrelation; see
        `batch_means_mcse` for an error bar from within each chain.
        """
        return spread_stderr(self._chain_values(name))

    def batch_means_mcse(self, name: str = "x", per_chain: bool = False) -> np.ndarray:
        """Monte Carlo standard error of ``estimates[name]`` from online batch means within each chain.

        Per chain ``sqrt(L s^2 / n)`` (``L``: batch length, ``s^2``: variance of the 32-64 complete batch means,
        ``n = num_steps``); pooled over chains ``sqrt(sum_c mcse_c^2) / num_chains``. Works with a single chain;
        for a Markov chain with batches long compared with its autocorrelation time it estimates the same
        quantity as `mcse` (chain spread), with about ``num_batches / 2 .. num_batches`` degrees of freedom. For
        SRMC the history feedback correlates batches negatively, which batch means do not see, so it is
        conservative there (larger than `mcse`). NaN with fewer than two complete batches.
        """
        self._chain_values(name)
        if name not in self.batch_means:
            raise ValueError("this run kept no batch means: pass num_batches > 0 (default 64) to srmc.sample.")
        batches = self.batch_means[name]
        chain_mcses = chain_mcse(batches, self.batch_length, self.num_steps)
        return chain_mcses if per_chain else pooled_mcse(chain_mcses)

    @property
    def nonfinite_estimates(self) -> list[str]:
        """Names of the functions whose value was not finite at some counted step (their estimates hold NaN/inf)."""
        flagged = {name for name, counts in self.num_nonfinite_values.items() if np.any(counts)}
        flagged |= {name for name, value in self.estimates.items() if not np.all(np.isfinite(value))}
        return sorted(flagged)

    def nonfinite_warning(self) -> str:
        """A one-line warning naming the functions whose estimates are not finite ('' when none)."""
        names = self.nonfinite_estimates
        if not names:
            return ""
        counts = {name: int(np.sum(self.num_nonfinite_values.get(name, 0))) for name in names}
        shown = ", ".join(f"{name!r} ({count} chain-steps)" for name, count in counts.items())
        return (f"non-finite function values were averaged into the estimates of {shown}: those estimates are "
                "not finite. Make the functions finite on the target's support.")

    @property
    def variance_mcse(self) -> np.ndarray:
        """Standard error of `variance` from the spread of the per-chain variance estimates."""
        return spread_stderr(self.chain_variance)

    def ess(self) -> np.ndarray | None:
        """Effective sample size per coordinate (numpyro) of the stored draws, or None without draws."""
        if self.draws is None or self.draws.shape[1] < 2:
            return None
        return _constant_safe(_diagnostics().effective_sample_size, self.draws)

    def r_hat(self) -> np.ndarray | None:
        """Split R-hat per coordinate (numpyro) of the stored draws, or None without enough draws."""
        if self.draws is None or self.draws.shape[1] < 4:
            return None
        return _constant_safe(_diagnostics().split_gelman_rubin, self.draws)

    def summary(self, max_rows: int = 20, truth: Any = None) -> str:
        """A table per coordinate of ``x``: mean, sd, MCSE (chain spread), batch-means MCSE, ESS and split R-hat
        (with draws); then the other functions' estimates, the run's figures and any non-finite warning.

        With named sites (`site_unravel`, set for NumPyro targets) and stored draws or site functions
        (``functions=targets.constrained_functions(target)``) the table has one row per element of each
        constrained site instead (``mu``, ``beta[0]``, ...; see `site_table`); `truth` is then ``{site: value}``.
        An array `truth` is for the flat ``x`` and shows the flat table.
        """
        sites = {} if truth is not None and not isinstance(truth, Mapping) else self.site_table()
        if sites:
            rows = _site_rows(sites, max_rows, truth)
            shown = {"x", "x^2", *sites, *(f"{site}^2" for site in sites)}
        else:
            rows = self._x_rows(max_rows, truth) if "x" in self.estimates else []
            shown = {"x", "x^2"}
            if self.site_unravel is not None and truth is None:
                rows.append("(flat unconstrained x: for a table by site pass thin=... or "
                            "functions=targets.constrained_functions(target) to srmc.sample)")
        others = [name for name in self.estimates if name not in shown]
        if others:
            rows += self._function_rows(others, max_rows)
        warmup = f" after {self.warmup_steps} warm-up steps" if self.warmup_steps else ""
        footer = (
            f"{self.algorithm_name} on {self.target_name}: {self.num_chains} chains x {self.num_steps} steps "
            f"(+{self.burn_in} burn-in){warmup}, acceptance {self.acceptance_rate.mean():.3f}, "
            f"non-finite rejected {int(self.num_nonfinite.sum())}, {self.wall_time:.2f} s "
            f"(compile {self.compile_time:.2f} s, sampling {self.sampling_time:.2f} s)"
        )
        if self.adapted_params:
            adapted = self.adapted_params.items()
            footer += "\nadapted: " + ", ".join(f"{name} {_short(value)}" for name, value in adapted)
        footer += "".join(f"\n{line}" for line in self.notes)
        trusted = ("mcse: spread of the independent chains (trusted: it assumes nothing about autocorrelation); "
                   "mcse_bm: batch means within each chain" if self.num_chains > 1 else
                   "mcse_bm: batch means within the one chain (mcse needs two chains or more)")
        health = [str(warning) for warning in self.warnings] or (["healthy: no warning"] if self.warnings == [] else [])
        return "\n".join(health + rows + [footer, trusted])

    def save(self, path: Any, *, overwrite: bool = False) -> Any:
        """Write this result to a ``.npz`` file (`srmc.engine.storage`); read it back with `srmc.load_result`."""
        return save_result(self, path, overwrite=overwrite)

    def site_draws(self) -> dict[str, np.ndarray] | None:
        """The stored draws by named site ``{site: (chains, draws, ...)}``, or None without draws or sites."""
        if self.site_unravel is None or self.draws is None:
            return None
        return {name: np.asarray(value) for name, value in self.site_unravel(self.draws).items()}

    def site_table(self) -> dict[str, dict[str, np.ndarray]]:
        """Per named site: ``mean``, ``sd``, ``mcse`` (chain spread), ``mcse_bm`` (batch means), ``ess``, ``r_hat``.

        Means and MCSEs come from the site functions' running means when the run estimated them (every counted
        step), else from the stored draws; ``sd`` from the running means of ``site^2`` or the draws; ESS and
        split R-hat from the draws. Columns a run cannot give are left out. An empty dict without named sites.
        """
        draws = self.site_draws()
        names = self._site_names(draws)
        if names is None:
            return {}
        draws = draws or {}
        table = {}
        for name in names:
            sample = None if name not in draws else np.asarray(draws[name], np.float64)
            columns = {}
            if name in self.estimates:
                columns["mean"] = np.asarray(self.estimates[name])
            elif sample is not None:
                columns["mean"] = sample.mean(axis=(0, 1))
            if f"{name}^2" in self.estimates and name in self.estimates:
                columns["sd"] = np.sqrt(np.maximum(self.estimates[f"{name}^2"] - self.estimates[name] ** 2, 0.0))
            elif sample is not None:
                columns["sd"] = sample.std(axis=(0, 1))
            columns["mcse"] = self.mcse(name) if name in self.chain_estimates else spread_stderr(sample.mean(axis=1))
            if name in self.batch_means:
                columns["mcse_bm"] = self.batch_means_mcse(name)
            if sample is not None and sample.shape[1] >= 4:
                columns["ess"] = _constant_safe(_diagnostics().effective_sample_size, sample)
                columns["r_hat"] = _constant_safe(_diagnostics().split_gelman_rubin, sample)
            table[name] = columns
        return table

    def _site_names(self, draws: Mapping[str, np.ndarray] | None) -> list[str] | None:
        """Names of the named sites a table can be made of (from `draws`, or the site functions), else None."""
        if self.site_unravel is None:
            return None
        if draws is not None:
            return list(draws)
        if "x" not in self.estimates:
            return None
        names = list(self.site_unravel(np.zeros((1, 1, np.shape(self.estimates["x"])[0]))))
        return names if all(name in self.chain_estimates for name in names) else None

    def _x_rows(self, max_rows: int, truth: Any) -> list[str]:
        mean = self.mean
        columns = {"mean": mean}
        if "x^2" in self.estimates:
            columns["sd"] = np.sqrt(np.maximum(self.variance, 0.0))
        columns["mcse"] = self.mcse("x")
        if "x" in self.batch_means:
            columns["mcse_bm"] = self.batch_means_mcse("x")
        if truth is not None:
            columns["truth"] = np.asarray(truth)
        for name, values in (("ess", self.ess()), ("r_hat", self.r_hat())):
            if values is not None:
                columns[name] = values
        return _table({f"x[{i}]": i for i in range(mean.shape[0])}, columns, max_rows, "coordinates")

    def _function_rows(self, names: list[str], max_rows: int) -> list[str]:
        labels, columns = {}, {"mean": [], "mcse": [], "mcse_bm": []}
        for name in names:
            flat = np.ravel(self.estimates[name])
            for i, value in enumerate(flat):
                labels[name if flat.size == 1 else f"{name}[{i}]"] = len(labels)
                columns["mean"].append(value)
            columns["mcse"] += list(np.ravel(self.mcse(name)))
            bm = self.batch_means_mcse(name) if name in self.batch_means else np.full(flat.shape, np.nan)
            columns["mcse_bm"] += list(np.ravel(bm))
        return _table(labels, {key: np.asarray(value) for key, value in columns.items()}, max_rows, "values")

    def _chain_values(self, name: str) -> np.ndarray:
        if name not in self.chain_estimates:
            raise KeyError(f"this run did not estimate {name!r}; it estimated {sorted(self.chain_estimates)}.")
        return self.chain_estimates[name]

    def _require(self, name: str) -> np.ndarray:
        if name not in self.estimates:
            raise KeyError(f"this run did not estimate {name!r}; include it in `functions` or use the defaults.")
        return self.estimates[name]

    def __repr__(self) -> str:
        return (f"SampleResult({self.algorithm_name} on {self.target_name}, chains={self.num_chains}, "
                f"steps={self.num_steps}, acceptance={self.acceptance_rate.mean():.3f})")


def _estimate(running_mean: Any, fn: Any, run: Any) -> np.ndarray:
    """A function's per-chain estimates: its running means, or a `targets.Histogram`'s counts as frequencies
    (over the counted steps, or each chain's draws)."""
    if not isinstance(fn, Histogram):
        return np.asarray(running_mean)
    draws = run.num_accumulated if isinstance(run.num_draws, tuple) else run.num_draws
    denominator = np.maximum(np.asarray(draws), 1).reshape(-1, 1) if np.ndim(draws) else max(int(draws), 1)
    return np.asarray(running_mean) / np.asarray(denominator, np.float64)


def _diagnostics() -> Any:
    """numpyro.diagnostics (ESS, split R-hat), imported quietly."""
    from srmc.targets.numpyro_model import import_numpyro

    return import_numpyro("numpyro.diagnostics")


def _constant_safe(diagnostic: Callable[[np.ndarray], Any], draws: np.ndarray) -> np.ndarray:
    """A numpyro diagnostic of `draws`; NaN, without a RuntimeWarning, where a coordinate never changed (a
    pixel that is always off, a rejected-only chain), whose within-chain variance is zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(diagnostic(draws))


def default_site_unravel(target: Any) -> Callable[[np.ndarray], Mapping[str, Any]] | None:
    """The named-site map of a target's results: its constrained sites for a `targets.from_numpyro` target."""
    from srmc.targets.numpyro_model import NumPyroModel, constrain

    if isinstance(getattr(target, "model", None), NumPyroModel):
        return functools.partial(constrain, target)
    return None


def _short(value: Any) -> str:
    """A parameter value in a few characters: a number, or the range of an array."""
    value = np.asarray(value)
    if value.size == 1:
        return f"{float(value):.4g}"
    return f"{value.shape} in [{value.min():.3g}, {value.max():.3g}]"


def _adapted_params(run: Any, lengths: Any) -> dict:
    """The warm-up's adapted parameters as numpy: one value when every chain got the same, else per chain."""
    if not lengths.warmup_steps:
        return {}
    adapted = {}
    for name, value in run.warmup.params.items():
        value = np.asarray(value)
        adapted[name] = value[0] if np.all(value == value[:1]) else value
    return adapted


def _numpyro_log_likelihood(site_unravel: Any, draws: np.ndarray) -> dict[str, np.ndarray] | None:
    """``{observed site: (chains, draws, ...)}`` pointwise log-likelihoods when `site_unravel` is the constrained-site
    map of a `targets.from_numpyro` target (`default_site_unravel`), else None (e.g. a result read back from disk)."""
    from srmc.targets.numpyro_model import constrain

    if not (isinstance(site_unravel, functools.partial) and site_unravel.func is constrain and site_unravel.args):
        return None
    from srmc.interop.numpyro import log_likelihood

    pointwise = log_likelihood(site_unravel.args[0], draws)
    return {name: np.asarray(value) for name, value in pointwise.items()} or None


def _import_arviz() -> Any:
    try:
        import arviz
    except ImportError as error:
        raise ImportError('to_arviz needs arviz: pip install "srmc[arviz]"') from error
    return arviz


def _posterior_variables(
    draws: np.ndarray, var_name: str, site_unravel: Callable[[np.ndarray], Mapping[str, Any]] | None
) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """(posterior variables, their dims beyond chain and draw): one flat variable, or one per named site."""
    if site_unravel is None:
        return {var_name: draws}, {var_name: [f"{var_name}_dim_{i}" for i in range(draws.ndim - 2)]}
    sites = {name: np.asarray(value) for name, value in site_unravel(draws).items()}
    for name, value in sites.items():
        if value.shape[:2] != draws.shape[:2]:
            raise ValueError(f"site_unravel gave site {name!r} the shape {value.shape}; its leading axes must be "
                             f"(chains, draws) = {draws.shape[:2]}.")
    return sites, {name: [f"{name}_dim_{i}" for i in range(value.ndim - 2)] for name, value in sites.items()}


def _site_rows(table: Mapping[str, Mapping[str, np.ndarray]], max_rows: int,
               truth: Mapping[str, Any] | None) -> list[str]:
    """Rows of `SampleResult.site_table`: one per element of each site (``beta[0]``), `truth` beside the MCSE."""
    keys = list(dict.fromkeys(key for columns in table.values() for key in columns))
    if truth is not None:
        keys.insert(keys.index("mcse") + 1, "truth")
    labels, values = {}, {key: [] for key in keys}
    for name, columns in table.items():
        columns = dict(columns)
        shape = np.shape(columns["mean"])
        if truth is not None:
            columns["truth"] = np.broadcast_to(np.asarray(truth.get(name, np.nan), np.float64), shape)
        for index in np.ndindex(*shape):
            labels[name if not shape else f"{name}[{','.join(map(str, index))}]"] = len(labels)
            for key in keys:
                values[key].append(columns[key][index] if key in columns else np.nan)
    return _table(labels, {key: np.asarray(column, np.float64) for key, column in values.items()}, max_rows,
                  "site values")


def _table(labels: Mapping[str, int], columns: Mapping[str, np.ndarray], max_rows: int, what: str) -> list[str]:
    """Rows ``label  value ...`` (at most `max_rows`, then a count of the rest) under a header of column names."""
    width = max([8, *(len(label) + 1 for label in labels)])
    rows = [f"{'':>{width}}" + "".join(f"{name:>11}" for name in columns)]
    for label, index in list(labels.items())[:max_rows]:
        rows.append(f"{label:>{width}}" + "".join(f"{values[index]:>11.4g}" for values in columns.values()))
    if len(labels) > max_rows:
        rows.append(f"... {len(labels) - max_rows} more {what}")
    return rows
