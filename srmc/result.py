"""`SampleResult`: estimates, per-chain estimates, diagnostics and a summary table."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import numpy as np


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
        `thin` steps leading to it, and ``theta_norm`` (SRMC only); empty without draws.
      final_state: the last state of every chain (a pytree with a leading chain axis).
      num_steps, burn_in, thin: the run's lengths; wall_time: seconds spent sampling (compilation included).
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

    @classmethod
    def from_run(cls, run, draws, functions: Mapping[str, Callable], algorithm, target, num_steps, burn_in, thin,
                 wall_time) -> "SampleResult":
        """Collect a finished run (see `runner.RunState`) into a result."""
        chain_estimates = {name: np.asarray(m) for name, m in zip(functions, run.running_means)}
        positions, draw_stats = (None, {}) if draws is None else draws
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
        )

    @property
    def num_chains(self) -> int:
        """Number of chains."""
        return int(self.acceptance_rate.shape[0])

    @property
    def theta_norm(self) -> np.ndarray | None:
        """``|theta|`` at each stored draw, ``(num_chains, num_draws)``; None without draws or for a base kernel."""
        return self.draw_stats.get("theta_norm")

    def to_arviz(self, var_name: str = "x"):
        """An ``arviz.InferenceData``: posterior draws (chain, draw, dim) and per-draw sample stats."""
        if self.draws is None:
            raise ValueError("to_arviz needs stored draws: pass thin=... to srmc.sample.")
        try:
            import arviz
        except ImportError as error:
            raise ImportError('to_arviz needs arviz: pip install "srmc[arviz]"') from error
        return arviz.from_dict(
            posterior={var_name: self.draws},
            sample_stats=dict(self.draw_stats),
            dims={var_name: [f"{var_name}_dim"]},
            attrs={"algorithm": self.algorithm_name, "target": self.target_name, "thin": self.thin,
                   "burn_in": self.burn_in, "num_steps": self.num_steps},
        )

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
        """Monte Carlo standard error of ``estimates[name]`` from the spread of independent chains."""
        return _spread_stderr(self.chain_estimates[name])

    @property
    def variance_mcse(self) -> np.ndarray:
        """Standard error of `variance` from the spread of the per-chain variance estimates."""
        return _spread_stderr(self.chain_variance)

    def ess(self) -> np.ndarray | None:
        """Effective sample size per coordinate (numpyro) of the stored draws, or None without draws."""
        if self.draws is None or self.draws.shape[1] < 2:
            return None
        from numpyro.diagnostics import effective_sample_size

        return np.asarray(effective_sample_size(self.draws))

    def r_hat(self) -> np.ndarray | None:
        """Split R-hat per coordinate (numpyro) of the stored draws, or None without enough draws."""
        if self.draws is None or self.draws.shape[1] < 4:
            return None
        from numpyro.diagnostics import split_gelman_rubin

        return np.asarray(split_gelman_rubin(self.draws))

    def summary(self, max_rows: int = 20, truth: Any = None) -> str:
        """A table per coordinate: mean, sd, MCSE (chain spread), ESS and split R-hat (with draws)."""
        mean, sd = self.mean, np.sqrt(np.maximum(self.variance, 0.0))
        columns = {"mean": mean, "sd": sd, "mcse": self.mcse("x")}
        if truth is not None:
            columns["truth"] = np.asarray(truth)
        for name, values in (("ess", self.ess()), ("r_hat", self.r_hat())):
            if values is not None:
                columns[name] = values
        header = f"{'':>8}" + "".join(f"{name:>11}" for name in columns)
        rows = [header]
        shown = min(max_rows, mean.shape[0])
        for i in range(shown):
            rows.append(f"{f'x[{i}]':>8}" + "".join(f"{values[i]:>11.4g}" for values in columns.values()))
        if shown < mean.shape[0]:
            rows.append(f"... {mean.shape[0] - shown} more coordinates")
        footer = (
            f"{self.algorithm_name} on {self.target_name}: {self.num_chains} chains x {self.num_steps} steps "
            f"(+{self.burn_in} burn-in), acceptance {self.acceptance_rate.mean():.3f}, "
            f"non-finite rejected {int(self.num_nonfinite.sum())}, {self.wall_time:.2f} s"
        )
        return "\n".join(rows + [footer])

    def _require(self, name: str) -> np.ndarray:
        if name not in self.estimates:
            raise KeyError(f"this run did not estimate {name!r}; include it in `functions` or use the defaults.")
        return self.estimates[name]

    def __repr__(self) -> str:
        return (f"SampleResult({self.algorithm_name} on {self.target_name}, chains={self.num_chains}, "
                f"steps={self.num_steps}, acceptance={self.acceptance_rate.mean():.3f})")


def _spread_stderr(chain_values: np.ndarray) -> np.ndarray:
    """Standard deviation across chains (axis 0) over sqrt(num_chains); NaN with a single chain."""
    num_chains = chain_values.shape[0]
    if num_chains < 2:
        return np.full(chain_values.shape[1:], np.nan)
    return chain_values.std(axis=0, ddof=1) / np.sqrt(num_chains)
